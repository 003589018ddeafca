//! `max-token`: denies a request that declares a completion ceiling above
//! `max_tokens`, carries more than `max_messages` messages, or more than
//! `max_input_length` characters of text. It never imposes a ceiling: a request
//! that declares none is not capped.

use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::Ctx;
use crate::error::PluginError;
use crate::{Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "max-token",
    kind: PluginType::Guardrail,
    summary: "Rejects a request that declares a completion ceiling above max_tokens, or exceeds the message-count or input-length limit; it never imposes a ceiling, so a request declaring none is uncapped.",
    keys: &["max_tokens", "max_messages", "max_input_length"],
    build,
};

struct MaxToken {
    max_tokens: u64,
    max_messages: u64,
    max_input_length: u64,
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    Some(Arc::new(MaxToken {
        max_tokens: c.count("max_tokens").unwrap_or(0),
        max_messages: c.count("max_messages").unwrap_or(0),
        max_input_length: c.count("max_input_length").unwrap_or(0),
    }))
}

#[async_trait]
impl Plugin for MaxToken {
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
        if self.max_tokens > 0 {
            if let Some(n) = ctx.declared_max_tokens().filter(|n| *n > self.max_tokens) {
                return Err(PluginError::policy(format!(
                    "max_tokens {n} exceeds the limit of {}",
                    self.max_tokens
                )));
            }
        }
        if self.max_messages > 0 {
            let n = ctx.message_count() as u64;
            if n > self.max_messages {
                return Err(PluginError::policy(format!(
                    "{n} messages exceed the limit of {}",
                    self.max_messages
                )));
            }
        }
        if self.max_input_length > 0 {
            let n: u64 = ctx.texts().iter().map(|t| t.chars().count() as u64).sum();
            if n > self.max_input_length {
                return Err(PluginError::policy(format!(
                    "input length {n} exceeds the limit of {}",
                    self.max_input_length
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use serde_json::json;

    #[tokio::test]
    async fn limits() {
        let p = plugin(
            "max-token",
            json!({"max_tokens": 100, "max_messages": 2, "max_input_length": 10}),
        );
        let ok = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert!(
            p.on_request(&mut ctx_for(ok)).await.is_ok(),
            "no ceiling declared: not capped"
        );
        let big = json!({"model": "m", "max_tokens": 50, "max_completion_tokens": 101,
            "messages": [{"role": "user", "content": "hi"}]});
        assert!(
            p.on_request(&mut ctx_for(big)).await.is_err(),
            "max_completion_tokens wins"
        );
        let many = json!({"model": "m", "messages": [
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "user", "content": "c"}]});
        assert!(p.on_request(&mut ctx_for(many)).await.is_err());
        assert!(
            p.on_request(&mut chat_ctx("ééééééééééé")).await.is_err(),
            "11 chars"
        );
        assert!(
            p.on_request(&mut chat_ctx("éééééééééé")).await.is_ok(),
            "10 chars"
        );
        assert!(build_err("max-token", json!({"max_tokens": -1})).contains("zero or positive"));
    }
}
