//! AWS Signature Version 4, in house (HMAC-SHA256 over the `sha2` crate the
//! workspace already has; no AWS SDK, no OpenSSL). Pure: the signing time is
//! an argument, so AWS's published test-suite vectors pin the algorithm.
//!
//! Canonical URI: the request path as sent (already percent-encoded by the
//! URL), dot segments and empty segments removed, then every segment
//! URI-encoded once more — the double encoding every AWS service but S3
//! expects, so a Bedrock model id `…-v2:0` is sent as `…-v2%3A0` and signed
//! as `…-v2%253A0`. Signed headers: the caller's, `host`, `x-amz-date` and
//! `x-amz-security-token` (temporary credentials).

use sha2::{Digest, Sha256};

/// Credentials to sign with.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([REDACTED])")
    }
}

/// What is signed.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Headers to sign besides `host` / `x-amz-*` (any case; repeated names joined).
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// Where and when it is signed.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    /// Seconds since the Unix epoch.
    pub time: u64,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(H[usize::from(b >> 4)]));
        s.push(char::from(H[usize::from(b & 15)]));
    }
    s
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time (UTC, proleptic Gregorian).
pub fn amz_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 encoding of everything but unreserved characters.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hexval = |c: u8| char::from(c).to_digit(16);
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_uri(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let trailing = path.len() > 1 && path.ends_with('/') && !segs.is_empty();
    let mut out = String::from("/");
    out.push_str(
        &segs
            .iter()
            .map(|s| uri_encode(s))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if trailing {
        out.push('/');
    }
    out
}

fn canonical_query(query: Option<&str>) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn normalize_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The pieces of one signature (exposed for tests and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub amz_date: String,
    pub authorization: String,
}

/// Signs `req`. Returns the pieces; [`headers`] gives what to add to the request.
pub fn sign(
    req: &Request<'_>,
    creds: &Credentials<'_>,
    scope: &Scope<'_>,
) -> Result<Signature, String> {
    let url = url::Url::parse(req.url).map_err(|_| "cannot sign: invalid URL".to_owned())?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err("cannot sign: URL has no host".into()),
    };
    let amz_date = amz_date(scope.time);
    let date = &amz_date[..8];
    let mut hs: Vec<(String, String)> = Vec::with_capacity(req.headers.len() + 3);
    let mut push = |name: &str, value: &str| {
        let name = name.to_ascii_lowercase();
        let value = normalize_value(value);
        match hs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => hs.push((name, value)),
        }
    };
    for (k, v) in req.headers {
        let lk = k.to_ascii_lowercase();
        if lk == "host" || lk == "x-amz-date" || lk == "authorization" {
            continue;
        }
        push(k, v);
    }
    push("host", &host);
    push("x-amz-date", &amz_date);
    if let Some(t) = creds.session_token {
        push("x-amz-security-token", t);
    }
    hs.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = hs
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(url.path()),
        canonical_query(url.query()),
        canonical_headers,
        signed_headers,
        hex(&Sha256::digest(req.payload)),
    );
    let scope_str = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope_str}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac_sha256(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let signature = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope_str}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    );
    Ok(Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        amz_date,
        authorization,
    })
}

/// The headers a signed request carries: `x-amz-date`, the session token if
/// any, and `authorization`.
pub fn headers(sig: &Signature, creds: &Credentials<'_>) -> Vec<(&'static str, String)> {
    let mut out = vec![("x-amz-date", sig.amz_date.clone())];
    if let Some(t) = creds.session_token {
        out.push(("x-amz-security-token", t.to_owned()));
    }
    out.push(("authorization", sig.authorization.clone()));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// 2015-08-30T12:36:00Z, the test suite's clock.
    const SUITE_TIME: u64 = 1_440_938_160;
    const CREDS: Credentials<'static> = Credentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };
    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "service",
        time: SUITE_TIME,
    };

    fn suite(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Signature {
        sign(
            &Request {
                method,
                url,
                headers,
                payload: body,
            },
            &CREDS,
            &SCOPE,
        )
        .unwrap()
    }

    fn sig_of(s: &Signature) -> &str {
        s.authorization.rsplit("Signature=").next().unwrap()
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block size is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(SUITE_TIME), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(4_107_542_399), "21000228T235959Z");
    }

    #[test]
    fn aws_suite_get_vanilla() {
        let s = suite("GET", "https://example.amazonaws.com/", &[], b"");
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn aws_suite_vectors() {
        let u = "https://example.amazonaws.com";
        type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a [u8], &'a str);
        let cases: &[Case] = &[
            (
                "POST",
                format!("{u}/"),
                vec![],
                b"",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "POST",
                format!("{u}/?Param1=value1"),
                vec![],
                b"",
                "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            ),
            (
                "GET",
                format!("{u}/?Param2=value2&Param1=value1"),
                vec![],
                b"",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "GET",
                format!("{u}/?Param1=value2&Param1=Value1"),
                vec![],
                b"",
                "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
            ),
            (
                "GET",
                format!("{u}/"),
                vec![
                    ("My-Header1", "value4"),
                    ("My-Header1", "value1"),
                    ("My-Header1", "value3"),
                    ("My-Header1", "value2"),
                ],
                b"",
                "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
            ),
            (
                "GET",
                format!("{u}/"),
                vec![("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
                b"",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
            (
                "POST",
                format!("{u}/"),
                vec![("My-Header1", "VALUE1")],
                b"",
                "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
            ),
            (
                "GET",
                format!("{u}/example/.."),
                vec![],
                b"",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "GET",
                format!("{u}/./example"),
                vec![],
                b"",
                "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
            ),
            (
                "GET",
                format!("{u}/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
                vec![],
                b"",
                "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            ),
            (
                "POST",
                format!("{u}/"),
                vec![("Content-Type", "application/x-www-form-urlencoded")],
                b"Param1=value1",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            ),
        ];
        for (method, url, headers, body, want) in cases {
            let s = suite(method, url, headers, body);
            assert_eq!(
                sig_of(&s),
                *want,
                "{method} {url} {headers:?}\n{}",
                s.canonical_request
            );
        }
    }

    #[test]
    fn aws_suite_session_token_is_signed() {
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let creds = Credentials {
            session_token: Some(token),
            ..CREDS
        };
        let req = Request {
            method: "POST",
            url: "https://example.amazonaws.com/",
            headers: &[],
            payload: b"",
        };
        let s = sign(&req, &creds, &SCOPE).unwrap();
        assert_eq!(s.signed_headers, "host;x-amz-date;x-amz-security-token");
        assert_eq!(
            sig_of(&s),
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        );
        let h = headers(&s, &creds);
        assert_eq!(h[1], ("x-amz-security-token", token.to_owned()));
        assert_eq!(h[2].0, "authorization");
    }

    #[test]
    fn bedrock_model_ids_are_double_encoded() {
        let s = suite(
            "POST",
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
            &[("content-type", "application/json")],
            b"{}",
        );
        let uri = s.canonical_request.lines().nth(1).unwrap();
        assert_eq!(
            uri,
            "/model/anthropic.claude-3-5-haiku-20241022-v1%253A0/converse"
        );
        assert_eq!(s.signed_headers, "content-type;host;x-amz-date");
        let s = suite("GET", "http://127.0.0.1:9000/x", &[], b"");
        assert!(s.canonical_request.contains("host:127.0.0.1:9000\n"));
        assert!(format!("{CREDS:?}").contains("REDACTED"));
    }
}
