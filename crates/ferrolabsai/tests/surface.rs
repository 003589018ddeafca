//! Every SDK method against a local server: the request it sends (method,
//! path, query, body) and how the canned answer is typed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::*;
use serde_json::{json, Value};

fn key(id: &str) -> Value {
    json!({"id": id, "key": "fgw_abcd...wxyz", "name": "svc", "scopes": ["read_only"],
           "created_at": "2026-01-01T00:00:00Z", "usage_count": 3, "active": true})
}

fn answer(r: &Recorded) -> Value {
    match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/v1/chat/completions") => chat_reply("hi there"),
        ("POST", "/v1/completions") => json!({"object": "text_completion",
            "choices": [{"text": "Say hi", "index": 0, "finish_reason": "stop"}]}),
        ("POST", "/v1/embeddings") => json!({"object": "list", "model": "e",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -1.0]}]}),
        ("POST", "/v1/images/generations") => {
            json!({"created": 7, "data": [{"url": "https://img/1"}]})
        }
        ("POST", "/v1/moderations") => json!({"id": "modr-1", "model": "omni",
            "results": [{"flagged": true, "categories": {"violence": true}, "category_scores": {"violence": 0.9}}]}),
        ("POST", "/v1/rerank") => json!({"results": [{"index": 1, "relevance_score": 0.8}]}),
        ("POST", "/v1/responses") | ("GET", "/v1/responses/resp_1") => json!({
            "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi!"}]}],
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5, "cost_usd": 0.5}}),
        ("DELETE", "/v1/responses/resp_1") => {
            json!({"id": "resp_1", "object": "response", "deleted": true})
        }
        ("GET", "/v1/models") => json!({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "owned_by": "openai", "capabilities": ["vision", "streaming"],
             "pricing": {"input_per_m_tokens": 2.5}, "input_cost_per_token": 0.0000025},
            {"id": "gpt-4o-mini", "object": "model", "owned_by": "openai", "capabilities": ["streaming"]},
            {"id": "llama-3.3-70b", "object": "model", "owned_by": "groq", "context_window": 131072}]}),
        ("GET", "/v1/capabilities") => json!({"providers": {"openai": {"temperature": "forward"}},
            "image_response_formats": {"openai": ["url"]}}),
        ("GET", "/health") => {
            json!({"status": "ok", "version": "0.1.0", "providers": [{"name": "mock"}]})
        }
        ("GET", "/readyz") => json!({"status": "ready", "providers": []}),
        ("GET", "/livez") => json!({"status": "ok"}),
        ("GET", "/admin/dashboard") => json!({"providers": {"total": 1, "available": 1},
            "keys": {"total": 2}, "request_logs": {"enabled": true, "total": 9}}),
        ("GET", "/admin/health") => {
            json!({"status": "healthy", "providers": [], "components": [], "scopes": ["admin"]})
        }
        ("GET", "/admin/keys") => json!([key("k1"), key("k2")]),
        ("GET", "/admin/keys/usage") => {
            json!({"data": [key("k1")], "summary": {"total_keys": 1}, "filters": {}})
        }
        ("GET", "/admin/keys/k1") | ("PUT", "/admin/keys/k1") => key("k1"),
        ("POST", "/admin/keys") | ("POST", "/admin/keys/k1/rotate") => {
            json!({"id": "k1", "name": "svc",
            "key": "fgw_full_secret_value_1234", "scopes": ["read_only"], "created_at": "2026-01-01T00:00:00Z"})
        }
        ("POST", "/admin/keys/k1/revoke") => json!({"status": "revoked"}),
        ("DELETE", "/admin/keys/k1") => Value::Null,
        ("GET", "/admin/config") => json!({"apiVersion": "v1", "strategy": {"mode": "fallback"},
            "targets": [{"virtual_key": "openai"}], "aliases": {"fast": "gpt-4o-mini"}}),
        ("POST", "/admin/config") => json!({"status": "created"}),
        ("PUT", "/admin/config") => json!({"status": "updated"}),
        ("DELETE", "/admin/config") => json!({"status": "deleted"}),
        ("GET", "/admin/config/history") => json!({"data": [{"version": 1, "updated_at": "t",
            "config": {"targets": []}}, {"version": 2, "updated_at": "t2", "config": {}, "rolled_back_from": 1}],
            "summary": {"total_versions": 2}}),
        ("POST", "/admin/config/rollback/1") => {
            json!({"status": "rolled_back", "rolled_back_to": 1})
        }
        ("GET", "/admin/logs") => {
            json!({"data": [{"trace_id": TRACE, "stage": "after_request", "model": "m",
            "provider": "openai", "total_tokens": 5, "cost_usd": 0.01, "status": 200}],
            "summary": {"total_entries": 1, "returned_entries": 1}, "filters": {}})
        }
        ("GET", "/admin/logs/stats") => json!({"summary": {"total_entries": 1}, "latency_ms": null,
            "by_provider": {"openai": {"count": 1}}, "top_errors": []}),
        ("DELETE", "/admin/logs") => json!({"deleted": 4, "filters": {}}),
        ("GET", "/admin/providers") => json!([{"name": "openai", "models": []}]),
        ("GET", "/admin/providers/catalog") => {
            json!({"providers": [{"id": "openai", "registered": true}]})
        }
        ("GET", "/admin/plugins") => {
            json!([{"name": "word-filter", "type": "guardrail", "enabled": true}])
        }
        ("GET", "/admin/plugins/catalog") => json!({"data": [{"name": "budget"}]}),
        ("GET", "/admin/audit") => json!({"data": [{"occurred_at": "t", "action": "key.create",
            "actor": "master", "outcome": "ok"}], "summary": {"total_entries": 1}}),
        _ => json!({"unexpected": format!("{} {}", r.method, r.path)}),
    }
}

async fn mock() -> (Mock, FerroClient) {
    let m = Mock::start(|r, _| {
        let status = if r.method == "POST" && r.path == "/admin/keys" {
            201
        } else if r.method == "DELETE" && r.path == "/admin/keys/k1" {
            204
        } else {
            200
        };
        let v = answer(r);
        if v.is_null() {
            Reply::new(status)
        } else {
            Reply::json(status, v).header("x-request-id", TRACE)
        }
    })
    .await;
    let c = m.client();
    (m, c)
}

fn sent(m: &Mock) -> (String, String, Option<String>, Value) {
    let r = m.last();
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r.method, r.path, r.query, body)
}

#[tokio::test]
async fn inference_methods() {
    let (m, c) = mock().await;
    let r = c
        .completions()
        .create(&CompletionRequest::new("m", "Say hi").max_tokens(5u32))
        .await
        .unwrap();
    assert_eq!(r.choices[0].text, "Say hi");
    assert_eq!(r.trace_id.unwrap(), TRACE);
    assert_eq!(
        sent(&m).3,
        json!({"model": "m", "prompt": "Say hi", "max_tokens": 5})
    );

    let r = c
        .embeddings()
        .create(&EmbeddingRequest::new("e", vec!["a", "b"]).dimensions(8u32))
        .await
        .unwrap();
    assert_eq!(r.data[0].embedding.as_floats().unwrap(), &[0.25, -1.0]);
    assert_eq!(
        sent(&m).3,
        json!({"model": "e", "input": ["a", "b"], "dimensions": 8})
    );

    let r = c
        .images()
        .generate(&ImageRequest::new("dall-e-3", "a cat").size("1024x1024"))
        .await
        .unwrap();
    assert_eq!(r.data[0].url.as_deref(), Some("https://img/1"));
    assert_eq!(sent(&m).1, "/v1/images/generations");

    let r = c
        .moderations()
        .create(&ModerationRequest::new("some text"))
        .await
        .unwrap();
    assert!(r.results[0].flagged);
    assert_eq!(sent(&m).3, json!({"input": "some text"}));

    let r = c
        .rerank(&RerankRequest::new("rerank-v3", "q", ["d1", "d2"]).top_n(1u32))
        .await
        .unwrap();
    assert_eq!(r.results[0].index, 1);
    assert_eq!(
        sent(&m).3,
        json!({"model": "rerank-v3", "query": "q", "documents": ["d1", "d2"], "top_n": 1})
    );

    let r = c
        .responses()
        .create(&json!({"model": "gpt-4o", "input": "hi"}))
        .await
        .unwrap();
    assert_eq!(r.output_text(), "Hi!");
    assert_eq!(
        r.usage.as_ref().unwrap().cost_usd.as_ref().unwrap().value(),
        0.5
    );
    assert_eq!(sent(&m).3, json!({"model": "gpt-4o", "input": "hi"}));
    let r = c.responses().retrieve("resp_1").await.unwrap();
    assert_eq!(
        (r.status.as_deref(), r.trace_id.unwrap().as_str()),
        (Some("completed"), TRACE)
    );
    assert_eq!(sent(&m).0, "GET");
    assert!(c.responses().delete("resp_1").await.unwrap().deleted);
    assert_eq!(sent(&m).0, "DELETE");

    let r = c
        .chat()
        .completions()
        .create(&chat_req().temperature(0.5).max_tokens(9u32))
        .await
        .unwrap();
    assert_eq!(r.content(), Some("hi there"));
    assert_eq!(r.trace_id.unwrap(), TRACE);
    assert_eq!(r.usage.unwrap().cost_usd.unwrap().value(), 0.000012);
    let body = sent(&m).3;
    assert_eq!(
        (body["temperature"].clone(), body["max_tokens"].clone()),
        (json!(0.5), json!(9))
    );
}

#[tokio::test]
async fn catalog_and_probes() {
    let (m, c) = mock().await;
    assert_eq!(c.models().list().await.unwrap().len(), 3);
    assert_eq!(
        c.models()
            .list_filtered(Some("openai"), None)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        c.models()
            .list_filtered(None, Some("vision"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.models()
            .list_filtered(Some("groq"), Some("vision"))
            .await
            .unwrap()
            .len(),
        0
    );
    let gpt = c.models().retrieve("gpt-4o").await.unwrap();
    assert_eq!(gpt.input_cost_per_token, Some(0.0000025));
    assert_eq!(gpt.pricing.unwrap()["input_per_m_tokens"], 2.5);
    let e = c.models().retrieve("nope").await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)));
    assert_eq!((e.code(), e.status()), (Some("model_not_found"), Some(404)));
    assert_eq!(
        c.models().search("LLAMA").await.unwrap()[0].context_window,
        Some(131072)
    );
    // Every lookup is one GET /v1/models; /v1/models/{id} is never called.
    assert_eq!(m.hits_for("/v1/models"), m.hits());

    let caps = c.capabilities().await.unwrap();
    assert_eq!(caps.providers["openai"]["temperature"], "forward");
    let h = c.health().await.unwrap();
    assert!(h.is_healthy() && h.version.as_deref() == Some("0.1.0"));
    assert_eq!(c.ready().await.unwrap().status, "ready");
    assert!(c.live().await.unwrap().is_ok());
    assert_eq!(sent(&m).1, "/livez");
}

#[tokio::test]
async fn admin_keys() {
    let (m, c) = mock().await;
    let keys = c.admin().keys();
    assert_eq!(keys.list().await.unwrap().len(), 2);
    assert_eq!(keys.get("k1").await.unwrap().usage_count, 3);
    let created = keys
        .create(
            &CreateKeyRequest::new("svc")
                .scopes(["read_only"])
                .expires_at("2027-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(created.key.expose_secret(), "fgw_full_secret_value_1234");
    assert_eq!(
        sent(&m),
        (
            String::from("POST"),
            String::from("/admin/keys"),
            None,
            json!({"name": "svc", "scopes": ["read_only"], "expires_at": "2027-01-01T00:00:00Z"})
        )
    );
    let upd = UpdateKeyRequest {
        active: Some(false),
        ..Default::default()
    };
    keys.update("k1", &upd).await.unwrap();
    assert_eq!(sent(&m).3, json!({"active": false}));
    keys.revoke("k1").await.unwrap();
    assert_eq!(sent(&m).1, "/admin/keys/k1/revoke");
    keys.delete("k1").await.unwrap();
    assert_eq!(sent(&m).0, "DELETE");
    keys.rotate("k1").await.unwrap();
    let page = keys
        .usage(&KeyUsageQuery {
            active: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data[0].id, "k1");
    assert_eq!(
        sent(&m).2.as_deref(),
        Some("limit=20&offset=0&sort=usage&active=true")
    );
}

#[tokio::test]
async fn admin_config_logs_and_catalogs() {
    let (m, c) = mock().await;
    let a = c.admin();
    assert_eq!(a.dashboard().await.unwrap().request_logs["total"], 9);
    assert_eq!(a.health().await.unwrap().scopes, ["admin"]);

    let cfg = a.config().get().await.unwrap();
    assert_eq!(cfg.aliases["fast"], "gpt-4o-mini");
    assert_eq!(cfg.extra["apiVersion"], "v1");
    let new_cfg = json!({"targets": [{"virtual_key": "openai"}]});
    assert_eq!(
        a.config().create(&new_cfg).await.unwrap().status.as_deref(),
        Some("created")
    );
    assert_eq!(
        a.config().update(&new_cfg).await.unwrap().status.as_deref(),
        Some("updated")
    );
    assert_eq!(sent(&m).3, new_cfg);
    assert_eq!(
        a.config().delete().await.unwrap().status.as_deref(),
        Some("deleted")
    );
    let hist = a.config().history().await.unwrap();
    assert_eq!((hist.len(), hist[1].rolled_back_from), (2, Some(1)));
    let ack = a.config().rollback(1).await.unwrap();
    assert_eq!(ack.extra["rolled_back_to"], 1);

    let q = LogQuery {
        stage: Some("all".into()),
        provider: Some("openai".into()),
        ..Default::default()
    };
    let logs = a.logs().list(&q).await.unwrap();
    assert_eq!(logs.data[0].cost_usd.as_ref().unwrap().value(), 0.01);
    assert_eq!(logs.data[0].extra["status"], 200);
    assert_eq!(
        sent(&m).2.as_deref(),
        Some("limit=50&offset=0&stage=all&provider=openai")
    );
    let stats = a
        .logs()
        .stats(&LogStatsQuery {
            buckets: Some(12),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stats.by_provider["openai"]["count"], 1);
    assert_eq!(sent(&m).2.as_deref(), Some("buckets=12"));
    let purge = LogPurge {
        before: Some("2026-01-01T00:00:00Z".into()),
        ..Default::default()
    };
    assert_eq!(a.logs().delete(&purge).await.unwrap().extra["deleted"], 4);
    assert_eq!(sent(&m).0, "DELETE");
    assert_eq!(
        sent(&m).2.as_deref(),
        Some("before=2026-01-01T00%3A00%3A00Z")
    );

    assert_eq!(a.providers().list().await.unwrap()[0]["name"], "openai");
    assert_eq!(
        a.providers().catalog().await.unwrap()[0]["registered"],
        true
    );
    assert_eq!(a.plugins().list().await.unwrap()[0]["name"], "word-filter");
    assert_eq!(a.plugins().catalog().await.unwrap()[0]["name"], "budget");
    let audit = a
        .audit()
        .list(&AuditQuery {
            action: Some("key.create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.data[0].action, "key.create");
    assert_eq!(
        sent(&m).2.as_deref(),
        Some("limit=50&offset=0&action=key.create")
    );
}
