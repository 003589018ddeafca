//! The response extras of ★3: headers on every routed surface, and `provider`,
//! `trace_id`, `usage.cost_usd`, `usage.cache_hit` in JSON bodies.

use ferro_types::json::{write_json_str, JsonObject, ObjectLayout};
use ferro_types::usage::TokenCounts;
use http::{HeaderMap, HeaderName, HeaderValue};

/// What the gateway reports about how a request was served.
#[derive(Debug, Clone)]
pub struct Extras<'a> {
    /// Provider instance that served it.
    pub provider: &'a str,
    /// Target (virtual key) it was routed to.
    pub target: &'a str,
    /// Model id actually sent upstream.
    pub model: &'a str,
    pub attempts: u32,
    pub overhead_ms: Option<f64>,
    /// `None` = unpriced (header omitted).
    pub cost_usd: Option<f64>,
    pub cache_hit: bool,
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// Formats into a stack buffer: the header value is the only allocation.
fn set_fmt(h: &mut HeaderMap, name: &'static str, args: std::fmt::Arguments<'_>) {
    let mut buf = [0u8; 64];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    if std::io::Write::write_fmt(&mut cur, args).is_ok() {
        let n = usize::try_from(cur.position()).unwrap_or(0);
        set(h, name, std::str::from_utf8(&buf[..n]).unwrap_or(""));
    }
}

impl Extras<'_> {
    /// Writes the `X-Gateway-*` headers. `with_cost` is false on streams (the
    /// cost is only known at the end; it travels in the usage chunk).
    pub fn write_headers(&self, h: &mut HeaderMap, with_cost: bool) {
        set(h, "x-gateway-provider", self.provider);
        set(h, "x-gateway-target", self.target);
        set(h, "x-gateway-model", self.model);
        h.insert(
            HeaderName::from_static("x-gateway-attempts"),
            HeaderValue::from(self.attempts),
        );
        if let Some(o) = self.overhead_ms.filter(|o| *o > 0.0) {
            set_fmt(h, "x-gateway-overhead-ms", format_args!("{o:.3}"));
        }
        h.insert(
            HeaderName::from_static("x-gateway-cache"),
            HeaderValue::from_static(if self.cache_hit { "hit" } else { "miss" }),
        );
        if with_cost {
            if let Some(c) = self.cost_usd {
                let mut buf = [0u8; 48];
                match cost_str(c, &mut buf) {
                    Some(v) => set(h, "x-gateway-cost-usd", v),
                    None => set(h, "x-gateway-cost-usd", &format_cost(c)),
                }
            }
        }
    }
}

/// A cost as a JSON/header number with enough precision for sub-cent prices.
pub fn format_cost(c: f64) -> String {
    let mut buf = [0u8; 48];
    if let Some(s) = cost_str(c, &mut buf) {
        return s.to_owned();
    }
    let s = format!("{c:.10}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.')
        .map(|x| format!("{x}.0"))
        .unwrap_or_else(|| s.to_owned())
}

/// [`format_cost`] into `buf`; `None` when it does not fit (absurdly large values).
fn cost_str(c: f64, buf: &mut [u8; 48]) -> Option<&str> {
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    std::io::Write::write_fmt(&mut cur, format_args!("{c:.10}")).ok()?;
    let mut n = usize::try_from(cur.position()).ok()?;
    if buf[..n].contains(&b'.') {
        while n > 0 && buf[n - 1] == b'0' {
            n -= 1;
        }
        if n > 0 && buf[n - 1] == b'.' {
            // keep one decimal: "2." -> "2.0" (the zero is still in the buffer)
            n += 1;
        }
    }
    std::str::from_utf8(&buf[..n]).ok()
}

fn cost_json(cost: Option<f64>) -> Vec<u8> {
    match cost {
        Some(c) => format_cost(c).into_bytes(),
        None => b"null".to_vec(),
    }
}

/// Usage object with `cost_usd` and `cache_hit` added (other fields verbatim).
pub fn usage_with_cost(usage_raw: &str, cost: Option<f64>, cache_hit: bool) -> Option<Vec<u8>> {
    let u = JsonObject::parse(usage_raw.as_bytes()).ok()?;
    let c = cost_json(cost);
    let hit: &[u8] = if cache_hit { b"true" } else { b"false" };
    Some(u.write_with(&[("cost_usd", &c), ("cache_hit", hit)], &[]))
}

/// Reads token counts from a JSON response body's `usage` (and the number of
/// `data` items); also returns the body's top-level layout so the response
/// rewrite does not parse it again.
pub fn body_usage(body: &[u8]) -> Option<(TokenCounts, usize, Option<ObjectLayout>)> {
    let obj = JsonObject::parse(body).ok()?;
    let counts = obj
        .get_non_null("usage")
        .and_then(|u| TokenCounts::from_usage_json(u.get()));
    let data_len = obj
        .get_non_null("data")
        .and_then(|d| serde_json::from_str::<Vec<&serde_json::value::RawValue>>(d.get()).ok())
        .map(|v| v.len())
        .unwrap_or(0);
    Some((counts.unwrap_or_default(), data_len, obj.layout(body)))
}

/// [`rewrite_body`] over a body whose layout is already known.
pub fn rewrite_laid_out(
    body: &[u8],
    layout: &ObjectLayout,
    provider: &str,
    trace_id: &str,
    cost: Option<f64>,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(provider.len() + 2);
    write_json_str(&mut p, provider);
    let mut t = Vec::with_capacity(34);
    write_json_str(&mut t, trace_id);
    let usage = layout
        .get(body, "usage")
        .filter(|u| *u != b"null")
        .and_then(|u| std::str::from_utf8(u).ok())
        .and_then(|u| usage_with_cost(u, cost, false));
    let mut set: Vec<(&str, &[u8])> = vec![("provider", &p), ("trace_id", &t)];
    if let Some(u) = &usage {
        set.push(("usage", u));
    }
    layout.write_with(body, &set, &[])
}

/// Adds `provider`, `trace_id` and the usage extras to a JSON object body.
/// Bodies that are not objects are returned unchanged.
pub fn rewrite_body(
    body: &[u8],
    provider: &str,
    trace_id: &str,
    cost: Option<f64>,
    cache_hit: bool,
) -> Option<Vec<u8>> {
    let obj = JsonObject::parse(body).ok()?;
    let mut p = Vec::with_capacity(provider.len() + 2);
    write_json_str(&mut p, provider);
    let mut t = Vec::with_capacity(34);
    write_json_str(&mut t, trace_id);
    let usage = obj
        .get_non_null("usage")
        .and_then(|u| usage_with_cost(u.get(), cost, cache_hit));
    let mut set: Vec<(&str, &[u8])> = vec![("provider", &p), ("trace_id", &t)];
    if let Some(u) = &usage {
        set.push(("usage", u));
    }
    Some(obj.write_with(&set, &[]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn laid_out_rewrite_matches_the_parsing_one() {
        for body in [
            &br#"{"id":"x","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"provider":"old"}"#[..],
            br#"{"id":"x","usage":null}"#,
            br#"{"data":[{"embedding":[0.1]}]}"#,
        ] {
            let (_, _, layout) = body_usage(body).unwrap();
            assert_eq!(
                rewrite_laid_out(body, &layout.unwrap(), "openai", "abc", Some(0.5)),
                rewrite_body(body, "openai", "abc", Some(0.5), false).unwrap()
            );
        }
    }

    #[test]
    fn body_extras() {
        let out = rewrite_body(
            br#"{"id":"x","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
            "openai",
            "abc",
            Some(0.0000125),
            false,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["provider"], "openai");
        assert_eq!(v["trace_id"], "abc");
        assert_eq!(v["usage"]["cost_usd"], 0.0000125);
        assert_eq!(v["usage"]["cache_hit"], false);
        let unpriced =
            rewrite_body(br#"{"usage":{"prompt_tokens":1}}"#, "p", "t", None, false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&unpriced).unwrap();
        assert!(v["usage"]["cost_usd"].is_null());
    }

    #[test]
    fn cost_format() {
        assert_eq!(format_cost(0.0000125), "0.0000125");
        assert_eq!(format_cost(2.0), "2.0");
        assert_eq!(format_cost(0.0), "0.0");
        assert_eq!(format_cost(12.5), "12.5");
        assert_eq!(format_cost(100.0), "100.0");
        assert_eq!(
            format_cost(1e300).len(),
            303,
            "too long for the buffer: still formatted"
        );
        assert!(format_cost(1e300).ends_with(".0"));
    }
}
