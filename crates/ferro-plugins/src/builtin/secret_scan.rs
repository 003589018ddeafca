//! `secret-scan`: detects credentials by their structure (fixed prefix and
//! length) in the request, and in answers and streams when listed at
//! `after_request`. Only `block` denies; `warn` and `log` record the kind.

use super::{BuildCtx, Builtin};
use crate::config::{Conf, BLOCK_WARN_LOG};
use crate::context::{Ctx, ResponseView};
use crate::text::{screen_all, Action, Dir, Matcher, WindowScreen};
use crate::{ChunkScreen, Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use regex::RegexSet;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "secret-scan",
    kind: PluginType::Guardrail,
    summary: "Rejects content carrying credentials (cloud and API keys, tokens, private keys, webhooks; sixteen kinds plus custom patterns) in the request and, when listed at after_request, in the model's answer and streams.",
    keys: &["kinds", "patterns", "action"],
    build,
};

/// The sixteen curated kinds: (name, pattern).
const KINDS: [(&str, &str); 16] = [
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{36,})\b",
    ),
    ("slack_token", r"\b(?:xox[abeprs]|xapp)-[0-9A-Za-z-]{10,}\b"),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    (
        "openai_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    ),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    (
        "stripe_key",
        r"\b(?:[rs]k_(?:live|test)|whsec)_[0-9A-Za-z]{24,}\b",
    ),
    (
        "private_key",
        r"-----BEGIN (?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY-----",
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    ),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{34,}\b"),
    (
        "sendgrid_key",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    ),
    ("twilio_key", r"\bSK[0-9a-fA-F]{32}\b"),
    ("azure_storage_key", r"AccountKey=[A-Za-z0-9+/]{86}=="),
    (
        "slack_webhook",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
    ),
];

/// Longest earlier stream text a credential can span (a private-key header,
/// an Azure key, a webhook URL).
const OVERLAP: usize = 160;

struct Secrets {
    names: Vec<String>,
    /// All selected patterns in one automaton: one pass per text.
    set: RegexSet,
}

impl Matcher for Secrets {
    fn find(&self, text: &str, _: Dir) -> Option<String> {
        let first = self.set.matches(text).into_iter().next()?;
        Some(format!("{} detected", self.names.get(first)?))
    }
    fn overlap(&self) -> usize {
        OVERLAP
    }
}

struct SecretScan {
    secrets: Arc<Secrets>,
    action: Action,
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let action = Action::parse(c.choice("action", &BLOCK_WARN_LOG, "block"));
    let names: Vec<&'static str> = KINDS.iter().map(|(n, _)| *n).collect();
    let wanted = c.choices("kinds", &names);
    let mut selected: Vec<(String, String)> = KINDS
        .iter()
        .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.contains(n)))
        .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
        .collect();
    for (i, re) in c.patterns("patterns").into_iter().enumerate() {
        selected.push((format!("custom_{}", i + 1), re.as_str().to_owned()));
    }
    if selected.is_empty() {
        c.err(
            "kinds",
            "selects nothing: omit it for every kind, or name at least one",
        );
        return None;
    }
    let set = RegexSet::new(selected.iter().map(|(_, p)| p.as_str()));
    match set {
        Ok(set) => Some(Arc::new(SecretScan {
            secrets: Arc::new(Secrets {
                names: selected.into_iter().map(|(n, _)| n).collect(),
                set,
            }),
            action,
        })),
        Err(e) => {
            c.err("patterns", format!("cannot be compiled together: {e}"));
            None
        }
    }
}

#[async_trait]
impl Plugin for SecretScan {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest, Stage::AfterRequest]
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        let texts = ctx.texts().iter().map(String::as_str);
        screen_all(
            BUILTIN.name,
            &*self.secrets,
            self.action,
            Dir::Request,
            texts,
        )
    }
    async fn on_response(&self, _: &mut Ctx, resp: &ResponseView<'_>) -> PluginResult {
        screen_all(
            BUILTIN.name,
            &*self.secrets,
            self.action,
            Dir::Response,
            resp.texts(),
        )
    }
    fn on_stream(&self, _: &Ctx) -> Option<Box<dyn ChunkScreen>> {
        Some(Box::new(WindowScreen::new(
            BUILTIN.name,
            self.secrets.clone(),
            self.action,
        )))
    }
}

/// Every curated pattern compiles (checked in tests; the set is built per config).
#[cfg(test)]
fn all_compile() -> bool {
    KINDS.iter().all(|(_, p)| regex::Regex::new(p).is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::builtin::testing::*;
    use crate::PluginError;
    use serde_json::json;

    fn samples() -> Vec<(&'static str, String)> {
        let x = |c: char, n: usize| std::iter::repeat_n(c, n).collect::<String>();
        vec![
            ("aws_access_key", format!("AKIA{}", x('Q', 16))),
            ("github_token", format!("ghp_{}", x('a', 36))),
            ("slack_token", "xoxb-1234567890-abcdef".to_owned()),
            ("anthropic_key", format!("sk-ant-api03-{}", x('b', 30))),
            ("openai_key", format!("sk-proj-{}", x('c', 30))),
            ("google_api_key", format!("AIza{}", x('d', 35))),
            ("stripe_key", format!("sk_live_{}", x('e', 24))),
            ("private_key", "-----BEGIN RSA PRIVATE KEY-----".to_owned()),
            (
                "jwt",
                format!("eyJ{}.{}.{}", x('f', 12), x('g', 12), x('h', 12)),
            ),
            ("gitlab_token", format!("glpat-{}", x('i', 20))),
            ("npm_token", format!("npm_{}", x('j', 36))),
            ("huggingface_token", format!("hf_{}", x('k', 34))),
            ("sendgrid_key", format!("SG.{}.{}", x('l', 22), x('m', 43))),
            ("twilio_key", format!("SK{}", x('0', 32))),
            ("azure_storage_key", format!("AccountKey={}==", x('n', 86))),
            (
                "slack_webhook",
                "https://hooks.slack.com/services/T000/B000/XXXX".to_owned(),
            ),
        ]
    }

    #[tokio::test]
    async fn each_kind_is_detected_alone() {
        assert!(all_compile());
        for (kind, secret) in samples() {
            let p = plugin("secret-scan", json!({"kinds": [kind]}));
            let e = p
                .on_request(&mut chat_ctx(&format!("here: {secret} ok")))
                .await
                .unwrap_err();
            assert_eq!(
                e,
                PluginError::policy(format!(
                    "request blocked by content policy: {kind} detected"
                ))
            );
        }
        let p = plugin("secret-scan", json!({}));
        assert!(p
            .on_request(&mut chat_ctx("nothing secret about sk-short"))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn actions_streams_and_custom_patterns() {
        let p = plugin(
            "secret-scan",
            json!({"action": "warn", "patterns": ["corp_[0-9]{6}"]}),
        );
        assert!(
            p.on_request(&mut chat_ctx("corp_123456")).await.is_ok(),
            "warn forwards"
        );
        let p = plugin(
            "secret-scan",
            json!({"kinds": [], "patterns": ["corp_[0-9]{6}"]}),
        );
        let e = p
            .on_response(&mut chat_ctx("x"), &answer("corp_123456"))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            PluginError::policy("response blocked by content policy: custom_1 detected")
        );
        let mut s = p.on_stream(&chat_ctx("x")).unwrap();
        assert!(s.on_delta(0, "token corp_12").is_ok());
        assert!(s.on_delta(0, "3456 end").is_err());
        assert!(
            build_err("secret-scan", json!({"kinds": ["aws"]})).contains("kinds[0]: unknown value")
        );
        assert!(build_err("secret-scan", json!({"kinds": []})).contains("selects nothing"));
    }
}
