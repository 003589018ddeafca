//! Chain-level tests: compilation rules, stage order, the failure policy, the
//! cache-hit rule, settling on drop, and stream screens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::chain::Chain;
use crate::context::{Ctx, RequestMeta, Surface};
use crate::error::{Deny, PluginError};
use crate::flight::{Cached, CachedBody, Outcome};
use crate::shared::Shared;
use crate::{Plugin, PluginResult, PluginType, Screen, Stage};
use async_trait::async_trait;
use bytes::Bytes;
use ferro_config::PluginEntry;
use ferro_types::usage::TokenCounts;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn entry(name: &str, stage: &str, config: Value) -> PluginEntry {
    PluginEntry {
        name: name.to_owned(),
        kind: String::new(),
        stage: stage.to_owned(),
        enabled: true,
        config,
    }
}

fn meta(stream: bool) -> RequestMeta {
    RequestMeta {
        trace_id: "t".into(),
        api_key_id: "key".into(),
        surface: Surface::Chat,
        model: "gpt-4o-mini".into(),
        stream,
    }
}

fn body(text: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}),
    )
    .unwrap()
}

fn build(entries: &[PluginEntry]) -> Result<Arc<Chain>, String> {
    Chain::build(entries, &Shared::local(None))
        .map(|(c, _)| Arc::new(c))
        .map_err(|e| e.join("\n"))
}

#[test]
fn identity_rule_and_stage_checks() {
    let wf = |stage, words: Value| entry("word-filter", stage, json!({"blocked_words": words}));
    // Same config at two stages: one instance.
    let c = build(&[
        wf("before_request", json!(["a"])),
        wf("after_request", json!(["a"])),
    ])
    .unwrap();
    assert_eq!(c.instances.len(), 1);
    // Different configs at two stages: refused.
    let e = build(&[
        wf("before_request", json!(["a"])),
        wf("after_request", json!(["b"])),
    ])
    .unwrap_err();
    assert!(
        e.contains("plugins[1].config") && e.contains("identical"),
        "{e}"
    );
    // Two configs at one stage: two independent instances.
    let c = build(&[
        wf("before_request", json!(["a"])),
        wf("before_request", json!(["b"])),
    ])
    .unwrap();
    assert_eq!(c.instances.len(), 2);
    // Listed twice at one stage with one config.
    let e = build(&[
        wf("before_request", json!(["a"])),
        wf("before_request", json!(["a"])),
    ])
    .unwrap_err();
    assert!(e.contains("already listed"), "{e}");
    let e = build(&[entry("prompt-shield", "after_request", json!({}))]).unwrap_err();
    assert!(
        e.contains("plugins[0].stage: `prompt-shield` cannot be listed at after_request"),
        "{e}"
    );
    // Disabled entries are not compiled.
    let mut off = entry("nope", "before_request", json!({}));
    off.enabled = false;
    assert!(build(&[off]).unwrap().is_empty());
    // Every problem is reported.
    let e = build(&[
        entry("max-token", "before_request", json!({"max_tokens": "x"})),
        entry("rate-limit", "before_request", json!({"rps": 1})),
    ])
    .unwrap_err();
    assert!(
        e.contains("plugins[0].config.max_tokens") && e.contains("plugins[1].config.rps"),
        "{e}"
    );
}

#[tokio::test]
async fn stages_run_in_listed_order_and_a_hit_does_not_shorten_the_chain() {
    let cache = json!({"max_age": 60});
    let chain = build(&[
        entry("response-cache", "after_request", cache.clone()),
        entry("response-cache", "before_request", cache),
        entry(
            "word-filter",
            "before_request",
            json!({"blocked_words": ["nope"]}),
        ),
    ])
    .unwrap();
    let mut f = chain
        .start(meta(false), Some(body("hello").into()))
        .unwrap();
    f.before().await.unwrap();
    assert!(f.cache_hit().is_none());
    let answer = Cached {
        body: CachedBody::Json(Bytes::from_static(b"{}")),
        provider: "p".into(),
        target: "t".into(),
        usage: TokenCounts::default(),
    };
    f.finish(Outcome {
        status: 200,
        cacheable: Some(answer.clone()),
        ..Outcome::default()
    })
    .await;
    let mut f = chain
        .start(meta(false), Some(body("hello").into()))
        .unwrap();
    f.before().await.unwrap();
    assert_eq!(f.cache_hit().map(|c| c.as_ref().clone()), Some(answer));
    // A cached conversation still meets the guardrail listed after the cache.
    let chain2 = build(&[
        entry("response-cache", "before_request", json!({})),
        entry(
            "word-filter",
            "before_request",
            json!({"blocked_words": ["hello"]}),
        ),
    ])
    .unwrap();
    let mut f = chain2
        .start(meta(false), Some(body("hello").into()))
        .unwrap();
    let e = f.before().await.unwrap_err();
    assert_eq!(e.plugin, "word-filter");
}

struct Broken(PluginType, Arc<Mutex<Vec<&'static str>>>);

#[async_trait]
impl Plugin for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn kind(&self) -> PluginType {
        self.0
    }
    async fn on_request(&self, _: &mut Ctx) -> PluginResult {
        self.1.lock().unwrap().push("request");
        Err(PluginError::Failed("disk on fire".into()))
    }
    async fn on_response(&self, _: &mut Ctx, _: &crate::ResponseView<'_>) -> PluginResult {
        panic!("boom")
    }
    fn has_log_hook(&self) -> bool {
        true
    }
    async fn on_log(&self, _: &mut Ctx, o: &Outcome) -> PluginResult {
        self.1
            .lock()
            .unwrap()
            .push(if o.status == 499 { "log-499" } else { "log" });
        Ok(())
    }
}

#[tokio::test]
async fn failures_open_or_closed_by_type_and_panics_are_failures() {
    for (kind, open) in [
        (PluginType::Logging, true),
        (PluginType::Metrics, true),
        (PluginType::Guardrail, false),
        (PluginType::RateLimit, false),
    ] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let chain = Arc::new(Chain::single(
            Arc::new(Broken(kind, seen.clone())),
            &[Stage::BeforeRequest, Stage::AfterRequest],
        ));
        let mut f = chain.start(meta(false), Some(body("x").into())).unwrap();
        let res = f.before().await;
        assert_eq!(res.is_ok(), open, "{kind:?}");
        if let Err(e) = res {
            let api = e.to_api_error();
            assert_eq!((api.status, &*api.code), (500, "plugin_error"));
            assert_eq!(
                seen.lock().unwrap().as_slice(),
                ["request", "log"],
                "on_error + log ran"
            );
            continue;
        }
        let view = crate::ResponseView::new(b"{}", TokenCounts::default(), false);
        assert!(
            f.after(&view).await.is_ok(),
            "a panicking fail-open plugin is skipped"
        );
    }
}

#[tokio::test]
async fn dropped_flights_are_settled_on_the_runtime() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let chain = Arc::new(Chain::single(
        Arc::new(Broken(PluginType::Logging, seen.clone())),
        &[Stage::OnError],
    ));
    let f = chain.start(meta(false), None).unwrap();
    drop(f);
    for _ in 0..50 {
        if seen.lock().unwrap().contains(&"log-499") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the log hook never ran: {:?}", seen.lock().unwrap());
}

#[tokio::test]
async fn stream_screens_see_deltas_and_capture_for_the_cache() {
    let chain = build(&[
        entry("response-cache", "before_request", json!({})),
        entry("response-cache", "after_request", json!({})),
        entry(
            "secret-scan",
            "after_request",
            json!({"kinds": ["github_token"]}),
        ),
        entry(
            "schema-guard",
            "after_request",
            json!({"schema": {"type": "object"}, "action": "log"}),
        ),
    ])
    .unwrap();
    let mut f = chain.start(meta(true), Some(body("x").into())).unwrap();
    f.before().await.unwrap();
    let mut s = f.stream_screen().unwrap();
    let chunk = |t: &str| {
        serde_json::to_vec(&json!({"choices": [{"index": 0, "delta": {"content": t}}]})).unwrap()
    };
    assert_eq!(s.on_data(&chunk("{\"a\":")).unwrap(), Screen::Pass);
    assert_eq!(s.on_data(&chunk("1}")).unwrap(), Screen::Pass);
    assert_eq!(s.on_data(b"[DONE]").unwrap(), Screen::Pass);
    s.on_end().unwrap();
    assert_eq!(f.take_capture().map(|c| c.len()), Some(3));

    let mut f = chain.start(meta(true), Some(body("y").into())).unwrap();
    f.before().await.unwrap();
    let mut s = f.stream_screen().unwrap();
    s.on_data(&chunk("token ghp_")).unwrap();
    let e = s.on_data(&chunk(&"a".repeat(40))).unwrap_err();
    assert_eq!(e.plugin, "secret-scan");
    assert_eq!(e.to_api_error().code, "response_rejected");
    assert!(matches!(e.error, PluginError::Deny(Deny::Policy(_))));
}

#[test]
fn catalog_settings_match_what_the_plugins_accept() {
    for entry_ in crate::catalog() {
        let mut cfg = serde_json::Map::new();
        for k in &entry_.settings {
            cfg.insert((*k).to_owned(), Value::Null);
        }
        let errs = crate::builtin::build(
            entry_.name,
            &Value::Object(cfg),
            "p",
            &[Stage::AfterRequest],
            &Shared::local(None),
        )
        .err()
        .unwrap_or_default()
        .join("\n");
        assert!(!errs.contains("unknown key"), "{}: {errs}", entry_.name);
    }
}
