//! Redaction of credentials from anything that leaves the gateway or reaches a log:
//! literal secrets the gateway holds, plus common key shapes.

use std::borrow::Cow;

/// Replaces known secrets and key-shaped tokens with `[REDACTED]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    literals: Vec<String>,
}

/// Token prefixes that mark a credential (the rest of the token is replaced too).
const KEY_PREFIXES: [&str; 10] = [
    "sk-", "fgw_", "fgws_", "gsk_", "xai-", "AKIA", "ghp_", "hf_", "AIza", "xoxb-",
];

impl Redactor {
    pub fn new(literals: impl IntoIterator<Item = String>) -> Redactor {
        let mut literals: Vec<String> = literals.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first so a secret containing another is replaced whole.
        literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        literals.dedup();
        Redactor { literals }
    }

    pub fn redact<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(s);
        for lit in &self.literals {
            if out.contains(lit.as_str()) {
                out = Cow::Owned(out.replace(lit.as_str(), "[REDACTED]"));
            }
        }
        if KEY_PREFIXES.iter().any(|p| out.contains(p)) || out.contains("Bearer ") {
            out = Cow::Owned(redact_shapes(&out));
        }
        out
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Length of the token at the start of `s` (a trailing `.` is punctuation).
fn token_len(s: &str) -> usize {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    s[..end].trim_end_matches('.').len()
}

fn redact_shapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("Bearer ") {
            out.push_str("Bearer [REDACTED]");
            let end = after
                .find(|c: char| !is_token_char(c))
                .unwrap_or(after.len());
            rest = &after[end..];
            continue;
        }
        let at_boundary = out.chars().last().is_none_or(|c| !is_token_char(c));
        if at_boundary {
            if let Some(p) = KEY_PREFIXES.iter().find(|p| rest.starts_with(**p)) {
                let end = token_len(rest);
                if end >= p.len() + 8 {
                    out.push_str("[REDACTED]");
                    rest = &rest[end..];
                    continue;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_shapes() {
        let r = Redactor::new(["my-upstream-secret".to_owned()]);
        assert_eq!(r.redact("key my-upstream-secret bad"), "key [REDACTED] bad");
        assert_eq!(
            r.redact("Incorrect API key provided: sk-proj-abcdefghijklmnop."),
            "Incorrect API key provided: [REDACTED]."
        );
        assert_eq!(
            r.redact("Authorization: Bearer abc.def"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(r.redact("task-sk-1 is fine"), "task-sk-1 is fine");
        assert_eq!(r.redact("plain"), "plain");
    }
}
