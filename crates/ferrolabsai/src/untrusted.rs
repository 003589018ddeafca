//! [`Untrusted<T>`]: values the gateway reports about itself.
//!
//! `trace_id`, `provider`, `gateway_overhead_ms` and `usage.cost_usd` are
//! written by the server (or by anything between it and you). They are useful
//! for correlation, display and dashboards, but nothing authenticates them: do
//! not bill, authorise or build file paths / queries from them without your own
//! checks. The SDK marks them with this type and validates their *format*
//! before exposing them; a value that fails validation becomes `None` and a
//! `tracing` warning is emitted (the bad value itself is not logged).
//!
//! | field | accepted |
//! |---|---|
//! | `trace_id`, error `request_id` | 1–128 chars of `[0-9A-Za-z_-]` (Ferro sends 32 lowercase hex) |
//! | `provider` | 1–128 chars of `[0-9A-Za-z._:/-]` |
//! | `usage.cost_usd`, `gateway_overhead_ms` | a finite number ≥ 0 |

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A value reported by the gateway, format-checked but not authenticated.
///
/// Construct one only through the validating constructors
/// ([`Untrusted::trace_id`], [`Untrusted::provider`], [`Untrusted::amount`]);
/// read it with [`get`](Untrusted::get) / [`as_str`](Untrusted::as_str) /
/// [`value`](Untrusted::value).
///
/// ```
/// use ferrolabsai::Untrusted;
/// assert!(Untrusted::trace_id("4bf92f3577b34da6a3ce929d0e0e4736").is_some());
/// assert!(Untrusted::trace_id("x\r\nSet-Cookie: a=b").is_none());
/// assert!(Untrusted::amount(f64::NAN).is_none());
/// assert!(Untrusted::amount(-0.5).is_none());
/// assert_eq!(Untrusted::amount(0.25).map(|c| c.value()), Some(0.25));
/// ```
#[derive(Clone, PartialEq, PartialOrd)]
pub struct Untrusted<T>(T);

impl<T> Untrusted<T> {
    /// The validated value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// The validated value, by value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

const MAX_ID_LEN: usize = 128;

fn valid_trace_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_provider(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'))
}

impl Untrusted<String> {
    /// A trace / request id: 1–128 chars of `[0-9A-Za-z_-]`, else `None`.
    pub fn trace_id(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        valid_trace_id(&s).then_some(Untrusted(s))
    }

    /// A provider name: 1–128 chars of `[0-9A-Za-z._:/-]`, else `None`.
    pub fn provider(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        valid_provider(&s).then_some(Untrusted(s))
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a trace id in Ferro's canonical form: 32 lowercase hex
    /// digits, not all zero (the W3C trace-id format).
    pub fn is_canonical_trace_id(&self) -> bool {
        self.0.len() == 32
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && self.0.bytes().any(|b| b != b'0')
    }
}

impl Untrusted<f64> {
    /// An amount (USD cost, milliseconds): finite and ≥ 0, else `None`.
    pub fn amount(v: f64) -> Option<Self> {
        (v.is_finite() && v >= 0.0).then_some(Untrusted(v))
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Untrusted").field(&self.0).finish()
    }
}

impl<T: fmt::Display> fmt::Display for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq<str> for Untrusted<String> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Untrusted<String> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<f64> for Untrusted<f64> {
    fn eq(&self, other: &f64) -> bool {
        self.0 == *other
    }
}

impl<T: Serialize> Serialize for Untrusted<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

fn rejected(field: &'static str) {
    tracing::warn!(
        target: "ferrolabsai",
        field,
        "ignored an invalid `{field}` reported by the gateway (untrusted value failed validation)"
    );
}

/// Validates a string from a body or header; warns and yields `None` if invalid.
pub(crate) fn check_str(
    field: &'static str,
    v: &str,
    ctor: fn(String) -> Option<Untrusted<String>>,
) -> Option<Untrusted<String>> {
    let out = ctor(v.to_owned());
    if out.is_none() {
        rejected(field);
    }
    out
}

/// Validates an amount; warns and yields `None` if invalid.
pub(crate) fn check_amount(field: &'static str, v: f64) -> Option<Untrusted<f64>> {
    let out = Untrusted::amount(v);
    if out.is_none() {
        rejected(field);
    }
    out
}

fn trace_ctor(s: String) -> Option<Untrusted<String>> {
    Untrusted::trace_id(s)
}

fn provider_ctor(s: String) -> Option<Untrusted<String>> {
    Untrusted::provider(s)
}

/// Parses a header value as a trace id.
pub(crate) fn trace_id_from(field: &'static str, v: &str) -> Option<Untrusted<String>> {
    check_str(field, v, trace_ctor)
}

/// Parses a header value as a provider name.
pub(crate) fn provider_from(v: &str) -> Option<Untrusted<String>> {
    check_str("provider", v, provider_ctor)
}

/// Serde `deserialize_with` helpers: never fail, map invalid values to `None`.
pub(crate) mod de {
    use super::*;
    use serde_json::Value;

    fn string_field<'de, D: Deserializer<'de>>(
        d: D,
        field: &'static str,
        ctor: fn(String) -> Option<Untrusted<String>>,
    ) -> Result<Option<Untrusted<String>>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let out = ctor(s);
                if out.is_none() {
                    rejected(field);
                }
                out
            }
            Some(_) => {
                rejected(field);
                None
            }
        })
    }

    fn amount_field<'de, D: Deserializer<'de>>(
        d: D,
        field: &'static str,
    ) -> Result<Option<Untrusted<f64>>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) => check_amount(field, v),
                None => {
                    rejected(field);
                    None
                }
            },
            Some(_) => {
                rejected(field);
                None
            }
        })
    }

    pub(crate) fn trace_id<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Untrusted<String>>, D::Error> {
        string_field(d, "trace_id", trace_ctor)
    }

    pub(crate) fn provider<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Untrusted<String>>, D::Error> {
        string_field(d, "provider", provider_ctor)
    }

    pub(crate) fn cost_usd<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Untrusted<f64>>, D::Error> {
        amount_field(d, "cost_usd")
    }

    pub(crate) fn overhead_ms<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Untrusted<f64>>, D::Error> {
        amount_field(d, "gateway_overhead_ms")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_rules() {
        assert!(Untrusted::trace_id("a").is_some());
        assert!(Untrusted::trace_id("req_ABC-123").is_some());
        assert!(Untrusted::trace_id("x".repeat(128)).is_some());
        assert!(Untrusted::trace_id("x".repeat(129)).is_none());
        assert!(Untrusted::trace_id("").is_none());
        assert!(Untrusted::trace_id("a b").is_none());
        assert!(Untrusted::trace_id("a\nb").is_none());
        assert!(Untrusted::trace_id("é").is_none());
        let t = Untrusted::trace_id("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert!(t.is_canonical_trace_id());
        assert!(!Untrusted::trace_id("0".repeat(32))
            .unwrap()
            .is_canonical_trace_id());
        assert!(!Untrusted::trace_id("4BF92F3577B34DA6A3CE929D0E0E4736")
            .unwrap()
            .is_canonical_trace_id());
    }

    #[test]
    fn provider_rules() {
        assert!(Untrusted::provider("openai-eu").is_some());
        assert!(Untrusted::provider("azure/openai:1.0").is_some());
        assert!(Untrusted::provider("<script>").is_none());
        assert!(Untrusted::provider("").is_none());
    }

    #[test]
    fn amounts() {
        assert!(Untrusted::amount(0.0).is_some());
        assert!(Untrusted::amount(f64::INFINITY).is_none());
        assert!(Untrusted::amount(-1e-9).is_none());
    }

    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "de::trace_id")]
        trace_id: Option<Untrusted<String>>,
        #[serde(default, deserialize_with = "de::cost_usd")]
        cost_usd: Option<Untrusted<f64>>,
    }

    #[test]
    fn deserialisation_never_fails() {
        let p: Probe = serde_json::from_str(r#"{"trace_id":"ok_1","cost_usd":0.5}"#).unwrap();
        assert_eq!(p.trace_id.unwrap(), "ok_1");
        assert_eq!(p.cost_usd.unwrap(), 0.5);
        let p: Probe = serde_json::from_str(r#"{"trace_id":"bad id","cost_usd":-3}"#).unwrap();
        assert!(p.trace_id.is_none() && p.cost_usd.is_none());
        let p: Probe = serde_json::from_str(r#"{"trace_id":7,"cost_usd":"x"}"#).unwrap();
        assert!(p.trace_id.is_none() && p.cost_usd.is_none());
        let p: Probe = serde_json::from_str(r#"{"trace_id":null}"#).unwrap();
        assert!(p.trace_id.is_none() && p.cost_usd.is_none());
    }

    #[test]
    fn serialises_transparently() {
        let t = Untrusted::trace_id("abc").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"abc\"");
        assert_eq!(t.to_string(), "abc");
    }
}
