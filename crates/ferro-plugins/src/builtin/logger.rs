//! `request-logger`: accepted for compatibility. Ferro records one terminal
//! row per routed request without it (★2), so it validates its keys and logs a
//! debug line per stage; the old `backend` / `dsn` keys are ignored with a
//! warning, as in the Go gateway.

use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::{Ctx, ResponseView};
use crate::{Plugin, PluginResult, PluginType};
use async_trait::async_trait;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "request-logger",
    kind: PluginType::Logging,
    summary: "Records each request for the Request Logs page; Ferro logs every routed request without it, so it is accepted for compatibility.",
    keys: &["level", "persist", "backend", "dsn"],
    build,
};

const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

struct RequestLogger;

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    c.choice("level", &LEVELS, "info");
    c.bool("persist");
    for old in ["backend", "dsn"] {
        if c.has(old) {
            c.warn(
                old,
                "is ignored: request rows come from the gateway's request log",
            );
        }
    }
    Some(Arc::new(RequestLogger))
}

#[async_trait]
impl Plugin for RequestLogger {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        tracing::debug!(trace_id = %ctx.meta().trace_id, "request-logger: before_request");
        Ok(())
    }
    async fn on_response(&self, ctx: &mut Ctx, _: &ResponseView<'_>) -> PluginResult {
        tracing::debug!(trace_id = %ctx.meta().trace_id, "request-logger: after_request");
        Ok(())
    }
    async fn on_error(&self, ctx: &mut Ctx, status: u16, _: &str) {
        tracing::debug!(trace_id = %ctx.meta().trace_id, status, "request-logger: on_error");
    }
}

#[cfg(test)]
mod tests {
    use crate::builtin::testing::*;
    use serde_json::json;

    #[tokio::test]
    async fn accepts_go_keys() {
        let p = plugin(
            "request-logger",
            json!({"level": "debug", "persist": true, "backend": "sqlite"}),
        );
        assert!(p.on_request(&mut chat_ctx("x")).await.is_ok());
        assert!(
            build_err("request-logger", json!({"level": "loud"})).contains("level: unknown value")
        );
    }
}
