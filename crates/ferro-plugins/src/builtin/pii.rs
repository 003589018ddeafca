//! `pii-redact`: detects personal data in the request and blocks it, rewrites
//! it with a placeholder (chat-shaped bodies; other surfaces are denied, since
//! they cannot be rewritten safely), or only logs it.

use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::{rewrite_chat_texts, Ctx};
use crate::error::PluginError;
use crate::{Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use regex::Regex;
use std::sync::{Arc, OnceLock};

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "pii-redact",
    kind: PluginType::Guardrail,
    summary: "Detects personal data (email, phone, SSN, Luhn-checked card numbers, IBAN, IP address, custom patterns) and denies the request, rewrites it with the values replaced by a placeholder, or logs it.",
    keys: &["entities", "patterns", "action", "redact_placeholder"],
    build,
};

const ENTITIES: [&str; 6] = ["email", "phone", "ssn", "credit_card", "iban", "ip_address"];
const ACTIONS: [&str; 3] = ["block", "redact", "log"];

/// A candidate check beyond the pattern (Luhn, IBAN mod-97, IP parse).
type Check = fn(&str) -> bool;

struct Entity {
    name: String,
    re: Regex,
    /// A candidate must also pass this check (Luhn, IBAN mod-97, IP parse).
    check: Option<Check>,
}

impl Entity {
    fn found(&self, text: &str) -> bool {
        match self.check {
            None => self.re.is_match(text),
            Some(f) => self.re.find_iter(text).any(|m| f(m.as_str())),
        }
    }
}

fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| match i % 2 {
            1 if d * 2 > 9 => d * 2 - 9,
            1 => d * 2,
            _ => *d,
        })
        .sum();
    sum.is_multiple_of(10)
}

fn iban(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, rest) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in rest.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// A parseable address; IPv6 needs three non-empty groups, so code such as
/// `std::f64` is not taken for `d::f64`.
fn ip(s: &str) -> bool {
    if s.contains(':') && s.split(':').filter(|g| !g.is_empty()).count() < 3 {
        return false;
    }
    s.parse::<std::net::IpAddr>().is_ok()
}

fn builtin_entities() -> &'static [(&'static str, Regex, Option<Check>)] {
    static E: OnceLock<Vec<(&'static str, Regex, Option<Check>)>> = OnceLock::new();
    E.get_or_init(|| {
        let raw: [(&str, &str, Option<Check>); 6] = [
            (
                "email",
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}",
                None,
            ),
            (
                "phone",
                r"\+1\d{10}\b|\(\d{3}\)\s?\d{3}-\d{4}\b|\b\d{3}[-.]\d{3}[-.]\d{4}\b",
                None,
            ),
            ("ssn", r"\b\d{3}-\d{2}-\d{4}\b", None),
            ("credit_card", r"\b\d(?:[ \-]?\d){12,18}\b", Some(luhn)),
            (
                "iban",
                r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
                Some(iban),
            ),
            (
                "ip_address",
                r"\b(?:\d{1,3}\.){3}\d{1,3}\b|(?i:(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4})",
                Some(ip),
            ),
        ];
        raw.into_iter()
            .filter_map(|(n, p, c)| Regex::new(p).ok().map(|re| (n, re, c)))
            .collect()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Block,
    Redact,
    Log,
}

struct Pii {
    entities: Vec<Entity>,
    mode: Mode,
    placeholder: String,
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let mode = match c.choice("action", &ACTIONS, "block") {
        "redact" => Mode::Redact,
        "log" => Mode::Log,
        _ => Mode::Block,
    };
    let placeholder = c
        .string("redact_placeholder")
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("[REDACTED]")
        .to_owned();
    let wanted = c.choices("entities", &ENTITIES);
    let mut entities: Vec<Entity> = builtin_entities()
        .iter()
        .filter(|(n, _, _)| wanted.as_ref().is_none_or(|w| w.contains(n)))
        .map(|(n, re, check)| Entity {
            name: (*n).to_owned(),
            re: re.clone(),
            check: *check,
        })
        .collect();
    for (i, re) in c.patterns("patterns").into_iter().enumerate() {
        entities.push(Entity {
            name: format!("custom_{}", i + 1),
            re,
            check: None,
        });
    }
    if entities.is_empty() {
        c.err(
            "entities",
            "selects nothing: omit it for every entity, or name at least one",
        );
    }
    Some(Arc::new(Pii {
        entities,
        mode,
        placeholder,
    }))
}

impl Pii {
    fn detect(&self, text: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|e| e.found(text))
            .map(|e| e.name.as_str())
    }

    /// `text` with every (checked) match replaced; `None` when unchanged.
    fn redact(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for e in &self.entities {
            let cur = out.as_deref().unwrap_or(text);
            if !e.found(cur) {
                continue;
            }
            let replaced = e.re.replace_all(cur, |caps: &regex::Captures<'_>| {
                let m = caps.get(0).map_or("", |m| m.as_str());
                match e.check {
                    Some(f) if !f(m) => m.to_owned(),
                    _ => self.placeholder.clone(),
                }
            });
            tracing::info!(plugin = BUILTIN.name, entity = %e.name, "redacted request");
            out = Some(replaced.into_owned());
        }
        out
    }
}

#[async_trait]
impl Plugin for Pii {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest]
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        let found = ctx
            .texts()
            .iter()
            .find_map(|t| self.detect(t))
            .map(str::to_owned);
        let Some(entity) = found else {
            return Ok(());
        };
        match self.mode {
            Mode::Log => {
                tracing::info!(plugin = BUILTIN.name, %entity, "personal data in request");
                Ok(())
            }
            Mode::Redact if ctx.meta().surface.is_chat() => {
                if let Some(body) = ctx.body_mut() {
                    rewrite_chat_texts(body, &|t| self.redact(t));
                }
                Ok(())
            }
            // Block, and redact where the body is not chat-shaped.
            _ => Err(PluginError::policy(format!(
                "request blocked by content policy: {entity} detected"
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::builtin::testing::*;
    use crate::context::Surface;
    use serde_json::json;

    #[test]
    fn checks() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
        assert!(ip("10.0.0.1") && ip("2001:db8::1") && !ip("999.1.1.1"));
    }

    #[tokio::test]
    async fn block_names_the_entity_not_the_value() {
        let p = plugin("pii-redact", json!({}));
        for (text, entity) in [
            ("mail me at jo@example.com", "email"),
            ("call 555-123-4567", "phone"),
            ("ssn 123-45-6789", "ssn"),
            ("card 4111-1111-1111-1111", "credit_card"),
            ("iban DE89370400440532013000 please", "iban"),
            ("host 192.168.10.4 down", "ip_address"),
            ("v6 2001:db8::ff00:42:8329 up", "ip_address"),
        ] {
            let e = p.on_request(&mut chat_ctx(text)).await.unwrap_err();
            assert_eq!(
                e,
                PluginError::policy(format!(
                    "request blocked by content policy: {entity} detected"
                )),
                "{text}"
            );
        }
        for clean in [
            "order 4111 1111 1111 1112 (not Luhn)",
            "version 1.2.3.4000",
            "at 10:30:15",
            "use std::f64;",
        ] {
            assert!(p.on_request(&mut chat_ctx(clean)).await.is_ok(), "{clean}");
        }
    }

    #[tokio::test]
    async fn redact_rewrites_chat_and_denies_elsewhere() {
        let p = plugin(
            "pii-redact",
            json!({"action": "redact", "entities": ["email", "credit_card"],
            "redact_placeholder": "<pii>", "patterns": ["EMP-\\d{4}"]}),
        );
        let mut ctx = ctx_for(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "jo@x.io pays with 4111111111111111, EMP-1234, not 1234567890123"}]}]}));
        p.on_request(&mut ctx).await.unwrap();
        let out: serde_json::Value =
            serde_json::from_slice(&ctx.rewritten_body().unwrap()).unwrap();
        assert_eq!(
            out["messages"][0]["content"][0]["text"],
            "<pii> pays with <pii>, <pii>, not 1234567890123"
        );
        let mut emb = ctx_as(
            Surface::Embeddings,
            "k",
            json!({"model": "m", "input": "jo@x.io"}),
        );
        assert!(p.on_request(&mut emb).await.is_err());
        let e = build_err(
            "pii-redact",
            json!({"entities": ["email", "dna"], "action": "warn"}),
        );
        assert!(
            e.contains("entities[1]") && e.contains("action: unknown value"),
            "{e}"
        );
    }
}
