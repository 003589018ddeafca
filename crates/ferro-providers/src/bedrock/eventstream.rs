//! The binary `application/vnd.amazon.eventstream` framing of
//! ConverseStream: an incremental decoder with both CRC checks and a capped
//! buffer, plus an encoder (tests, fuzzing, mock servers).
//!
//! One message: `total_len:u32 | headers_len:u32 | prelude_crc:u32 |
//! headers | payload | message_crc:u32`, big endian, CRC-32 (IEEE) of the
//! first 8 bytes and of everything before the message CRC. A header is
//! `name_len:u8 | name | type:u8 | value`; value types 0 true, 1 false,
//! 2 byte, 3 i16, 4 i32, 5 i64, 6 bytes (`u16` length), 7 string (`u16`
//! length), 8 timestamp (i64 ms), 9 UUID (16 bytes).

use bytes::{Buf, Bytes, BytesMut};

/// Largest message accepted (AWS caps payloads at 16 MiB, headers at 128 KiB).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024 + 128 * 1024 + 16;

const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;

/// Why a byte stream is not a valid event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// `total_len` below the minimum or above [`MAX_MESSAGE`].
    BadLength(u32),
    PreludeCrc {
        expected: u32,
        found: u32,
    },
    MessageCrc {
        expected: u32,
        found: u32,
    },
    /// A header (or the header block) is malformed.
    BadHeaders(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadLength(n) => write!(f, "invalid event-stream message length {n}"),
            FrameError::PreludeCrc { expected, found } => {
                write!(
                    f,
                    "event-stream prelude CRC mismatch ({expected:08x} != {found:08x})"
                )
            }
            FrameError::MessageCrc { expected, found } => {
                write!(
                    f,
                    "event-stream message CRC mismatch ({expected:08x} != {found:08x})"
                )
            }
            FrameError::BadHeaders(m) => write!(f, "invalid event-stream headers: {m}"),
        }
    }
}

/// A header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Bytes(Vec<u8>),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Message {
    /// A string header's value (`:event-type`, `:message-type`, …).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, as zlib computes it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_headers(mut h: &[u8]) -> Result<Vec<(String, HeaderValue)>, FrameError> {
    let short = FrameError::BadHeaders("truncated header");
    let mut out = Vec::new();
    while h.has_remaining() {
        let name_len = usize::from(h.get_u8());
        if name_len == 0 || h.remaining() < name_len + 1 {
            return Err(FrameError::BadHeaders("bad header name length"));
        }
        let name = std::str::from_utf8(&h[..name_len])
            .map_err(|_| FrameError::BadHeaders("header name is not UTF-8"))?
            .to_owned();
        h.advance(name_len);
        let need = |h: &[u8], n: usize| {
            if h.remaining() < n {
                Err(short.clone())
            } else {
                Ok(())
            }
        };
        let value = match h.get_u8() {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => {
                need(h, 1)?;
                HeaderValue::Byte(h.get_i8())
            }
            3 => {
                need(h, 2)?;
                HeaderValue::Int16(h.get_i16())
            }
            4 => {
                need(h, 4)?;
                HeaderValue::Int32(h.get_i32())
            }
            5 => {
                need(h, 8)?;
                HeaderValue::Int64(h.get_i64())
            }
            t @ (6 | 7) => {
                need(h, 2)?;
                let n = usize::from(h.get_u16());
                need(h, n)?;
                let v = h[..n].to_vec();
                h.advance(n);
                if t == 6 {
                    HeaderValue::Bytes(v)
                } else {
                    HeaderValue::String(
                        String::from_utf8(v)
                            .map_err(|_| FrameError::BadHeaders("header string is not UTF-8"))?,
                    )
                }
            }
            8 => {
                need(h, 8)?;
                HeaderValue::Timestamp(h.get_i64())
            }
            9 => {
                need(h, 16)?;
                let mut u = [0u8; 16];
                h.copy_to_slice(&mut u);
                HeaderValue::Uuid(u)
            }
            _ => return Err(FrameError::BadHeaders("unknown header value type")),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Checks the prelude of a buffer holding at least 12 bytes; returns
/// `(total_len, headers_len)`.
fn prelude(b: &[u8]) -> Result<(usize, usize), FrameError> {
    let total = be32(&b[0..4]);
    let headers = be32(&b[4..8]);
    let expected = crc32(&b[0..8]);
    let found = be32(&b[8..12]);
    if expected != found {
        return Err(FrameError::PreludeCrc { expected, found });
    }
    let total_len = total as usize;
    if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total_len) {
        return Err(FrameError::BadLength(total));
    }
    let headers_len = headers as usize;
    if headers_len > total_len - MIN_MESSAGE {
        return Err(FrameError::BadHeaders(
            "header block longer than the message",
        ));
    }
    Ok((total_len, headers_len))
}

/// Decodes one whole message (exactly `total_len` bytes).
pub fn decode(frame: &[u8]) -> Result<Message, FrameError> {
    if frame.len() < MIN_MESSAGE {
        return Err(FrameError::BadLength(frame.len() as u32));
    }
    let (total, hlen) = prelude(frame)?;
    if frame.len() != total {
        return Err(FrameError::BadLength(frame.len() as u32));
    }
    let expected = crc32(&frame[..total - 4]);
    let found = be32(&frame[total - 4..]);
    if expected != found {
        return Err(FrameError::MessageCrc { expected, found });
    }
    let headers = parse_headers(&frame[PRELUDE..PRELUDE + hlen])?;
    Ok(Message {
        headers,
        payload: Bytes::copy_from_slice(&frame[PRELUDE + hlen..total - 4]),
    })
}

/// Incremental decoder: bytes in any split, whole messages out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Feeds bytes; appends every message completed by them. A corrupt
    /// frame is an error (the stream cannot be resynchronised).
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Message>) -> Result<(), FrameError> {
        self.buf.extend_from_slice(chunk);
        while self.buf.len() >= PRELUDE {
            let (total, _) = prelude(&self.buf)?;
            if self.buf.len() < total {
                break;
            }
            let frame = self.buf.split_to(total);
            out.push(decode(&frame)?);
        }
        Ok(())
    }

    /// Bytes of an incomplete message still buffered.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Encodes one message (string-valued headers are the common case).
pub fn encode(headers: &[(&str, HeaderValue)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, v) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        match v {
            HeaderValue::Bool(true) => h.push(0),
            HeaderValue::Bool(false) => h.push(1),
            HeaderValue::Byte(b) => {
                h.push(2);
                h.extend_from_slice(&b.to_be_bytes());
            }
            HeaderValue::Int16(n) => {
                h.push(3);
                h.extend_from_slice(&n.to_be_bytes());
            }
            HeaderValue::Int32(n) => {
                h.push(4);
                h.extend_from_slice(&n.to_be_bytes());
            }
            HeaderValue::Int64(n) => {
                h.push(5);
                h.extend_from_slice(&n.to_be_bytes());
            }
            HeaderValue::Bytes(b) => {
                let b = &b[..b.len().min(usize::from(u16::MAX))];
                h.push(6);
                h.extend_from_slice(&(b.len() as u16).to_be_bytes());
                h.extend_from_slice(b);
            }
            HeaderValue::String(s) => {
                let b = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
                h.push(7);
                h.extend_from_slice(&(b.len() as u16).to_be_bytes());
                h.extend_from_slice(b);
            }
            HeaderValue::Timestamp(n) => {
                h.push(8);
                h.extend_from_slice(&n.to_be_bytes());
            }
            HeaderValue::Uuid(u) => {
                h.push(9);
                h.extend_from_slice(u);
            }
        }
    }
    let total = (MIN_MESSAGE + h.len() + payload.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let pc = crc32(&out);
    out.extend_from_slice(&pc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let mc = crc32(&out);
    out.extend_from_slice(&mc.to_be_bytes());
    out
}

/// A ConverseStream event message (`:message-type: event`).
pub fn event(event_type: &str, payload: &[u8]) -> Vec<u8> {
    encode(
        &[
            (":event-type", HeaderValue::String(event_type.to_owned())),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("event".into())),
        ],
        payload,
    )
}

/// A ConverseStream exception message (`:message-type: exception`).
pub fn exception(exception_type: &str, payload: &[u8]) -> Vec<u8> {
    encode(
        &[
            (
                ":exception-type",
                HeaderValue::String(exception_type.to_owned()),
            ),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("exception".into())),
        ],
        payload,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// aws-c-event-stream's `message_deserializer_test.c` vectors.
    const NO_HEADERS: &[u8] = &[
        0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
        0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36,
    ];

    fn one_header() -> Vec<u8> {
        let mut v = vec![
            0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C,
        ];
        v.extend_from_slice(b"content-type");
        v.extend_from_slice(&[0x07, 0x00, 0x10]);
        v.extend_from_slice(b"application/json");
        v.extend_from_slice(b"{'foo':'bar'}");
        v.extend_from_slice(&[0x8D, 0x9C, 0x08, 0xB1]);
        v
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn crt_vectors_decode_and_reencode() {
        let m = decode(NO_HEADERS).unwrap();
        assert!(m.headers.is_empty());
        assert_eq!(&m.payload[..], b"{'foo':'bar'}");
        assert_eq!(encode(&[], b"{'foo':'bar'}"), NO_HEADERS);
        let bytes = one_header();
        let m = decode(&bytes).unwrap();
        assert_eq!(m.header_str("content-type"), Some("application/json"));
        let again = encode(
            &[(
                "content-type",
                HeaderValue::String("application/json".into()),
            )],
            b"{'foo':'bar'}",
        );
        assert_eq!(again, bytes);
    }

    #[test]
    fn all_header_types_round_trip() {
        let headers = vec![
            ("true", HeaderValue::Bool(true)),
            ("false", HeaderValue::Bool(false)),
            ("byte", HeaderValue::Byte(50)),
            ("short", HeaderValue::Int16(20_000)),
            ("int", HeaderValue::Int32(500_000)),
            ("long", HeaderValue::Int64(50_000_000_000)),
            ("bytes", HeaderValue::Bytes(b"some bytes".to_vec())),
            ("str", HeaderValue::String("some str".into())),
            ("time", HeaderValue::Timestamp(5_000_000_000)),
            ("uuid", HeaderValue::Uuid([7; 16])),
        ];
        let bytes = encode(&headers, b"some payload");
        let m = decode(&bytes).unwrap();
        let names: Vec<_> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, headers.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        assert_eq!(m.headers[5].1, HeaderValue::Int64(50_000_000_000));
        assert_eq!(&m.payload[..], b"some payload");
    }

    #[test]
    fn corruption_is_detected() {
        let mut b = NO_HEADERS.to_vec();
        b[9] ^= 1;
        assert!(matches!(decode(&b), Err(FrameError::PreludeCrc { .. })));
        let mut b = NO_HEADERS.to_vec();
        b[14] ^= 1;
        assert!(matches!(decode(&b), Err(FrameError::MessageCrc { .. })));
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let mut b = one_header();
        b[20] = 0xff; // inside the header name: message CRC catches it
        assert!(d.push(&b, &mut out).is_err());
        let huge = {
            let mut v = (u32::MAX).to_be_bytes().to_vec();
            v.extend_from_slice(&0u32.to_be_bytes());
            let c = crc32(&v);
            v.extend_from_slice(&c.to_be_bytes());
            v
        };
        let mut d = Decoder::new();
        assert!(matches!(
            d.push(&huge, &mut out),
            Err(FrameError::BadLength(_))
        ));
    }

    #[test]
    fn any_split_decodes_the_same() {
        let mut all = event("messageStart", br#"{"role":"assistant"}"#);
        all.extend(one_header());
        all.extend_from_slice(NO_HEADERS);
        for cut in 0..=all.len() {
            let mut d = Decoder::new();
            let mut out = Vec::new();
            d.push(&all[..cut], &mut out).unwrap();
            d.push(&all[cut..], &mut out).unwrap();
            assert_eq!(out.len(), 3, "cut {cut}");
            assert_eq!(d.pending(), 0);
        }
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for b in &all {
            d.push(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out[0].header_str(":event-type"), Some("messageStart"));
    }
}
