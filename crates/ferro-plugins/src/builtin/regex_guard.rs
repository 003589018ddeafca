//! `regex-guard`: named regular expressions screening the request
//! (`apply_to: input`, the default), the answer (`output`) or both; the
//! plugin's stage listing decides which directions run at all.

use super::{BuildCtx, Builtin};
use crate::config::{compile, Conf, BLOCK_WARN_LOG};
use crate::context::{Ctx, ResponseView};
use crate::error::PluginError;
use crate::text::{act, tail, Action, Dir};
use crate::{ChunkScreen, Plugin, PluginResult, PluginType, Screen, Stage};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "regex-guard",
    kind: PluginType::Guardrail,
    summary: "Rejects or flags content matching named regular expressions; screens the request at before_request and the response (streams included) at after_request according to each rule's apply_to.",
    keys: &["rules", "action"],
    build,
};

const RULE_KEYS: [&str; 4] = ["name", "pattern", "apply_to", "action"];
const APPLY_TO: [&str; 3] = ["input", "output", "both"];
/// Earlier stream text a rule may span (patterns have no fixed length).
const STREAM_OVERLAP: usize = 2048;

struct Rule {
    name: String,
    re: regex::Regex,
    input: bool,
    output: bool,
    action: Action,
}

struct Rules(Vec<Rule>);

impl Rules {
    /// Applies every rule of `dir` to `text`; the first blocking match denies.
    /// `seen` dedups log lines of warn/log rules within one request.
    fn screen(&self, text: &str, dir: Dir, seen: &mut Vec<usize>) -> Result<(), PluginError> {
        for (i, r) in self.0.iter().enumerate() {
            let applies = match dir {
                Dir::Request => r.input,
                Dir::Response => r.output,
            };
            if !applies || seen.contains(&i) || !r.re.is_match(text) {
                continue;
            }
            seen.push(i);
            tracing::debug!(rule = %r.name, "regex-guard matched");
            // The rule name stays in the server log: quoting rules or matches
            // to callers would let them map the policy one probe at a time.
            act(BUILTIN.name, r.action, dir, "")?;
        }
        Ok(())
    }
}

struct RegexGuard {
    rules: Arc<Rules>,
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let default = Action::parse(c.choice("action", &BLOCK_WARN_LOG, "block"));
    let mut rules = Vec::new();
    if let Some(raw) = c.raw("rules") {
        let Some(list) = raw.as_array() else {
            c.err("rules", "must be a list of rule objects");
            return None;
        };
        for (i, item) in list.iter().enumerate() {
            let path = format!("{}.rules[{i}]", c.path());
            let mut rc = Conf::new(&path, item, &RULE_KEYS);
            let name = rc
                .string("name")
                .filter(|n| !n.trim().is_empty())
                .map_or_else(|| format!("rule_{}", i + 1), str::to_owned);
            let apply = rc.choice("apply_to", &APPLY_TO, "input");
            let action = match rc.has("action") {
                true => Action::parse(rc.choice("action", &BLOCK_WARN_LOG, "block")),
                false => default,
            };
            let re = match rc.string("pattern").filter(|p| !p.trim().is_empty()) {
                None => {
                    rc.err("pattern", "is required");
                    None
                }
                Some(p) => compile(p).map_err(|e| rc.err("pattern", e)).ok(),
            };
            c.errs.append(&mut rc.errs);
            if let Some(re) = re {
                rules.push(Rule {
                    name,
                    re,
                    input: apply != "output",
                    output: apply != "input",
                    action,
                });
            }
        }
    }
    Some(Arc::new(RegexGuard {
        rules: Arc::new(Rules(rules)),
    }))
}

#[async_trait]
impl Plugin for RegexGuard {
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
        let mut seen = Vec::new();
        for t in ctx.texts() {
            self.rules.screen(t, Dir::Request, &mut seen)?;
        }
        Ok(())
    }
    async fn on_response(&self, _: &mut Ctx, resp: &ResponseView<'_>) -> PluginResult {
        let mut seen = Vec::new();
        for t in resp.texts() {
            self.rules.screen(t, Dir::Response, &mut seen)?;
        }
        Ok(())
    }
    fn on_stream(&self, _: &Ctx) -> Option<Box<dyn ChunkScreen>> {
        if !self.rules.0.iter().any(|r| r.output) {
            return None;
        }
        Some(Box::new(RuleScreen {
            rules: self.rules.clone(),
            tails: HashMap::new(),
            seen: Vec::new(),
        }))
    }
}

struct RuleScreen {
    rules: Arc<Rules>,
    tails: HashMap<u32, String>,
    seen: Vec<usize>,
}

impl ChunkScreen for RuleScreen {
    fn on_delta(&mut self, choice: u32, text: &str) -> Result<Screen, PluginError> {
        let mut window = self.tails.remove(&choice).unwrap_or_default();
        window.push_str(text);
        self.rules.screen(&window, Dir::Response, &mut self.seen)?;
        let keep = tail(&window, STREAM_OVERLAP).to_owned();
        self.tails.insert(choice, keep);
        Ok(Screen::Pass)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use serde_json::json;

    #[tokio::test]
    async fn directions_and_actions() {
        let p = plugin(
            "regex-guard",
            json!({"rules": [
                {"name": "ticket", "pattern": "TICKET-\\d+", "apply_to": "input"},
                {"name": "internal", "pattern": "(?i)internal only", "apply_to": "both", "action": "warn"},
                {"name": "leak", "pattern": "sk-[a-z]{5}", "apply_to": "output"}
            ]}),
        );
        assert!(p.on_request(&mut chat_ctx("see TICKET-42")).await.is_err());
        assert!(
            p.on_request(&mut chat_ctx("internal only, sk-abcde"))
                .await
                .is_ok(),
            "warn + output-only"
        );
        assert!(p
            .on_response(&mut chat_ctx("x"), &answer("TICKET-1"))
            .await
            .is_ok());
        let e = p
            .on_response(&mut chat_ctx("x"), &answer("key sk-abcde"))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            crate::PluginError::policy("response blocked by content policy")
        );
        let mut s = p.on_stream(&chat_ctx("x")).unwrap();
        assert!(s.on_delta(0, "key sk-ab").is_ok());
        assert!(s.on_delta(0, "cde").is_err());
    }

    #[test]
    fn load_errors() {
        let e = build_err(
            "regex-guard",
            json!({"rules": [{"name": "x"}, {"pattern": "(", "apply_to": "sideways", "oops": 1}], "action": "shout"}),
        );
        for needle in [
            "rules[0].pattern: is required",
            "rules[1].pattern: invalid pattern",
            "rules[1].apply_to: unknown value",
            "rules[1].oops: unknown key",
            "config.action: unknown value",
        ] {
            assert!(e.contains(needle), "missing {needle}: {e}");
        }
    }
}
