//! Strict JSON (CONTRACT §3.3) and cheap top-level object access.
//!
//! The gateway must never read a body differently from the upstream, so a body is
//! accepted only if it is one UTF-8 JSON value without a BOM, duplicate object keys
//! (also when one spelling is `\u`-escaped), non-finite numbers or trailing data,
//! nested at most [`MAX_DEPTH`] levels. After that check, [`JsonObject`] splits the
//! top level into `(key, raw value)` pairs so routing reads the few fields it needs
//! and everything else is forwarded byte for byte.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Maximum nesting depth of arrays and objects.
pub const MAX_DEPTH: usize = 128;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(pub String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

/// Checks that `body` is exactly one strict JSON value.
pub fn validate_strict(body: &[u8]) -> Result<(), JsonError> {
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(JsonError(
            "request body must not start with a byte order mark".into(),
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(JsonError("request body is not valid UTF-8".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    // serde_json's own recursion limit is 128; our visitor also counts depth so the
    // limit is explicit and does not depend on that default.
    Strict { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| JsonError(clean_serde_error(&e)))?;
    de.end()
        .map_err(|_| JsonError("unexpected data after the JSON value".into()))
}

fn clean_serde_error(e: &serde_json::Error) -> String {
    // serde_json messages never echo input values beyond field names; keep them.
    e.to_string()
}

struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }
    fn visit_string<E>(self, _: String) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(de::Error::custom("JSON nesting too deep"));
        }
        while seq.next_element_seed(Strict { depth })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(de::Error::custom("JSON nesting too deep"));
        }
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        let mut set: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let dup = match &mut set {
                Some(s) => !s.insert(k.clone()),
                None => {
                    let d = seen.contains(&k);
                    if !d {
                        seen.push(k.clone());
                        if seen.len() > 16 {
                            set = Some(seen.drain(..).collect());
                        }
                    }
                    d
                }
            };
            if dup {
                return Err(de::Error::custom(format_args!(
                    "duplicate object key `{}`",
                    truncate(&k, 64)
                )));
            }
            map.next_value_seed(Strict { depth })?;
        }
        Ok(())
    }
}

/// A map key that borrows from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Truncates a string for use in a message (never echo large input).
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The top level of a JSON object as `(key, raw value)` pairs, in input order.
#[derive(Debug)]
pub struct JsonObject<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> JsonObject<'a> {
    /// Splits `body` (already checked by [`validate_strict`]) into its top-level
    /// fields. Fails if the value is not an object.
    pub fn parse(body: &'a [u8]) -> Result<Self, JsonError> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let fields = de
            .deserialize_map(V)
            .map_err(|_| JsonError("request body must be a JSON object".into()))?;
        Ok(JsonObject { fields })
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| *v)
    }

    /// The raw value of `key` unless it is absent or JSON `null`.
    pub fn get_non_null(&self, key: &str) -> Option<&'a RawValue> {
        self.get(key).filter(|v| v.get() != "null")
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The declared completion ceiling: `max_completion_tokens` when it is an
    /// integer, else `max_tokens` when that is (`null` and other values count
    /// as absent).
    pub fn declared_max_tokens(&self) -> Option<u64> {
        let num = |k: &str| self.get(k).and_then(|r| r.get().parse::<u64>().ok());
        num("max_completion_tokens").or_else(|| num("max_tokens"))
    }

    pub fn fields(&self) -> &[(Cow<'a, str>, &'a RawValue)] {
        &self.fields
    }

    /// Writes the object back with edits applied: keys in `set` replace (or add, at
    /// the end) their values, keys in `remove` are dropped, everything else is copied
    /// verbatim.
    pub fn write_with(&self, set: &[(&str, &[u8])], remove: &[&str]) -> Vec<u8> {
        let cap = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>()
            + set
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
            + 2;
        let mut out = Vec::with_capacity(cap);
        out.push(b'{');
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, k: &str, v: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_str(out, k);
            out.push(b':');
            out.extend_from_slice(v);
        };
        for (k, v) in &self.fields {
            if remove.contains(&k.as_ref()) {
                continue;
            }
            match set.iter().find(|(sk, _)| *sk == k.as_ref()) {
                Some((_, nv)) => push(&mut out, k, nv),
                None => push(&mut out, k, v.get().as_bytes()),
            }
        }
        for (k, v) in set {
            if !self.fields.iter().any(|(fk, _)| fk.as_ref() == *k) {
                push(&mut out, k, v);
            }
        }
        out.push(b'}');
        out
    }
}

/// A [`JsonObject`]'s top level as byte ranges into its body, owned so it can
/// travel beside the body (`Bytes`) and serve a later rewrite without a
/// second parse. Only keys without escapes are kept as ranges; an object with
/// an escaped key has no layout (callers parse again).
#[derive(Debug, Clone, Default)]
pub struct ObjectLayout {
    /// (key range, value range), in input order.
    fields: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

fn range_in(body: &[u8], part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= body.len()).then_some(start..end)
}

impl<'a> JsonObject<'a> {
    /// The layout of this object within `body` (the bytes it was parsed from).
    pub fn layout(&self, body: &[u8]) -> Option<ObjectLayout> {
        let mut fields = Vec::with_capacity(self.fields.len());
        for (k, v) in &self.fields {
            let Cow::Borrowed(k) = k else { return None };
            fields.push((range_in(body, k)?, range_in(body, v.get())?));
        }
        Some(ObjectLayout { fields })
    }
}

impl ObjectLayout {
    fn key<'b>(body: &'b [u8], r: &std::ops::Range<usize>) -> &'b [u8] {
        body.get(r.clone()).unwrap_or_default()
    }

    /// The raw value of `key` in `body`, if present.
    pub fn get<'b>(&self, body: &'b [u8], key: &str) -> Option<&'b [u8]> {
        self.fields
            .iter()
            .find(|(k, _)| Self::key(body, k) == key.as_bytes())
            .and_then(|(_, v)| body.get(v.clone()))
    }

    /// [`JsonObject::write_with`] over `body` (the bytes this layout was taken from).
    pub fn write_with(&self, body: &[u8], set: &[(&str, &[u8])], remove: &[&str]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            body.len()
                + set
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 4)
                    .sum::<usize>()
                + 2,
        );
        out.push(b'{');
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, k: &[u8], v: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(k);
            out.extend_from_slice(b"\":");
            out.extend_from_slice(v);
        };
        for (kr, vr) in &self.fields {
            let k = Self::key(body, kr);
            if remove.iter().any(|r| r.as_bytes() == k) {
                continue;
            }
            match set.iter().find(|(sk, _)| sk.as_bytes() == k) {
                Some((_, nv)) => push(&mut out, k, nv),
                None => push(&mut out, k, body.get(vr.clone()).unwrap_or(b"null")),
            }
        }
        for (k, v) in set {
            if !self
                .fields
                .iter()
                .any(|(fk, _)| Self::key(body, fk) == k.as_bytes())
            {
                let mut key = Vec::with_capacity(k.len() + 2);
                write_json_str(&mut key, k);
                let inner = key.get(1..key.len().saturating_sub(1)).unwrap_or_default();
                push(&mut out, inner, v);
            }
        }
        out.push(b'}');
        out
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Parses a raw value as `T`, mapping failures to a message naming `field`.
pub fn field<'a, T: serde::Deserialize<'a>>(raw: &'a RawValue, field: &str) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|_| format!("invalid value for `{field}`"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_rewrites_like_write_with() {
        let body = br#"{"id":"x","usage":{"a":1},"n":[1,2],"s":"q\"z"}"#;
        let obj = JsonObject::parse(body).unwrap();
        let layout = obj.layout(body).unwrap();
        assert_eq!(layout.get(body, "usage"), Some(&br#"{"a":1}"#[..]));
        assert_eq!(layout.get(body, "s"), Some(&br#""q\"z""#[..]));
        assert_eq!(layout.get(body, "missing"), None);
        let set: &[(&str, &[u8])] = &[("usage", b"{}"), ("provider", br#""p""#), ("a\"b", b"1")];
        assert_eq!(
            layout.write_with(body, set, &["n"]),
            obj.write_with(set, &["n"])
        );
        // an escaped key has no layout
        let esc = br#"{"a\u0062":1}"#;
        assert!(JsonObject::parse(esc).unwrap().layout(esc).is_none());
    }

    fn ok(s: &str) -> bool {
        validate_strict(s.as_bytes()).is_ok()
    }

    #[test]
    fn accepts_plain_json() {
        assert!(ok(r#"{"a":1,"b":[1,2,{"c":"d"}],"e":null,"f":1.5e3}"#));
        assert!(ok("  {} \n"));
    }

    #[test]
    fn refuses_duplicates_even_escaped() {
        assert!(!ok(r#"{"model":"a","model":"b"}"#));
        assert!(!ok(r#"{"model":"a","\u006dodel":"b"}"#));
        assert!(!ok(r#"{"x":{"k":1,"k":2}}"#));
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":1")).collect();
        assert!(ok(&format!("{{{}}}", many.join(","))));
        assert!(!ok(&format!("{{{},\"k3\":2}}", many.join(","))));
    }

    #[test]
    fn refuses_trailing_bom_nan_depth_and_bad_utf8() {
        assert!(!ok(r#"{"a":1} {"b":2}"#));
        assert!(!ok("\u{feff}{}"));
        assert!(!ok(r#"{"a":NaN}"#));
        assert!(!ok(r#"{"a":Infinity}"#));
        assert!(!ok(r#"{"a":1e400}"#));
        assert!(validate_strict(b"{\"a\":\"\xff\"}").is_err());
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(!ok(&deep));
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(ok(&fine));
    }

    #[test]
    fn object_rewrite_keeps_unknown_fields_verbatim() {
        let body = br#"{"model":"m","x_custom":{"keep": [1, 2]},"stream":true}"#;
        let o = JsonObject::parse(body).unwrap();
        assert_eq!(o.get("x_custom").unwrap().get(), r#"{"keep": [1, 2]}"#);
        let out = o.write_with(&[("model", br#""n""#), ("extra", b"1")], &["stream"]);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"n","x_custom":{"keep": [1, 2]},"extra":1}"#
        );
        assert!(JsonObject::parse(b"[1]").is_err());
    }
}
