//! `/admin/config*` over real HTTP (CONTRACT §5.8): scrubbed reads, changes
//! applied through the atomic swap (a request right after sees them), history,
//! rollback, reset, the `[REDACTED]` refusal, and persistence across restarts
//! (config store > file > defaults).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const FILE: &str = "
targets:
  - virtual_key: mock-a
providers:
  - name: mock-a
    type: mock
  - name: held
    type: openai
    api_key: sk-live-abcdefghijklmnopqrstuvwx
    base_url: http://127.0.0.1:9/v1
aliases:
  fast: gpt-4o-mini
";

fn cfg(alias_to: &str) -> Value {
    json!({
        "targets": [{"virtual_key": "mock-a"}],
        "providers": [
            {"name": "mock-a", "type": "mock"},
            {"name": "held", "type": "openai", "api_key": "${HELD_KEY}", "base_url": "http://127.0.0.1:9/v1"}
        ],
        "aliases": {"fast": alias_to},
        "plugins": [{"name": "word-filter", "type": "guardrail", "stage": "before_request", "enabled": false,
                     "config": {"blocked_words": ["x"], "not_declared": "hidden"}}]
    })
}

/// The model a request for `fast` was sent upstream as.
async fn fast_goes_to(gw: &Gw) -> String {
    let r = gw.chat(chat_body("fast", "which model?")).await;
    assert_eq!(r.status(), 200);
    r.headers()["x-gateway-model"].to_str().unwrap().to_owned()
}

async fn send(gw: &Gw, m: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
    let mut b = gw.admin(m, path, Some(KEY));
    if let Some(v) = body {
        b = b.json(v);
    }
    b.send().await.unwrap()
}

#[tokio::test]
async fn change_history_rollback_reset_and_restart() {
    let data = tempfile::tempdir().unwrap();
    let env = [("HELD_KEY", "sk-from-env-0123456789abcdef")];
    let gw = Gw::start_at(data.path(), &env, Some(FILE)).await;

    // scrubbed read of the file config
    let r = send(&gw, Method::GET, "/admin/config", None).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["apiVersion"], "v1");
    assert_eq!(got["aliases"]["fast"], "gpt-4o-mini");
    assert_eq!(got["providers"][1]["api_key"], "[REDACTED]");
    assert!(!got.to_string().contains("sk-live"), "{got}");
    for k in [
        "strategy",
        "targets",
        "plugins",
        "mcp_servers",
        "observability",
        "compatibility",
    ] {
        assert!(got.get(k).is_some(), "{k} present");
    }
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o-mini");

    // writing the scrubbed view back is refused
    let r = send(&gw, Method::PUT, "/admin/config", Some(&got)).await;
    expect_error(r, 400, "redacted_secret").await;
    // strict decode and validation
    let mut bad = cfg("gpt-4o");
    bad["surprise"] = json!(1);
    let msg = expect_error(
        send(&gw, Method::PUT, "/admin/config", Some(&bad)).await,
        400,
        "invalid_config",
    )
    .await;
    assert!(msg.contains("surprise"), "{msg}");
    let mut bad = cfg("gpt-4o");
    bad["targets"] = json!([{"virtual_key": "nobody"}]);
    expect_error(
        send(&gw, Method::PUT, "/admin/config", Some(&bad)).await,
        400,
        "invalid_config",
    )
    .await;
    assert_eq!(
        fast_goes_to(&gw).await,
        "gpt-4o-mini",
        "refused changes leave the running config"
    );

    // PUT applies at once (same swap as a reload); ${VAR} is resolved from the process env
    let r = send(&gw, Method::PUT, "/admin/config", Some(&cfg("gpt-4o"))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "updated"})
    );
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o");
    let got = gw.admin_json("/admin/config", KEY).await;
    assert_eq!(
        got["providers"][1]["api_key"], "${HELD_KEY}",
        "references shown as written"
    );
    assert_eq!(
        got["plugins"][0]["config"],
        json!({"blocked_words": ["x"]}),
        "only declared plugin keys"
    );
    let r = send(
        &gw,
        Method::POST,
        "/admin/config",
        Some(&cfg("gpt-4.1-mini")),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "created"})
    );
    assert_eq!(fast_goes_to(&gw).await, "gpt-4.1-mini");

    // history and rollback
    let h = gw.admin_json("/admin/config/history", KEY).await;
    assert_eq!(h["summary"]["total_versions"], 2);
    let entries = h["data"].as_array().unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e["version"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(entries[0]["config"]["aliases"]["fast"], "gpt-4o");
    assert!(entries[0]["updated_at"].is_string());
    assert!(entries[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("master-key:"));
    assert!(!h.to_string().contains("sk-from-env"));
    for (v, status, code) in [
        ("0", 400, "invalid_request"),
        ("-1", 400, "invalid_request"),
        ("abc", 400, "invalid_request"),
        ("99", 404, "resource_not_found"),
    ] {
        let r = send(
            &gw,
            Method::POST,
            &format!("/admin/config/rollback/{v}"),
            None,
        )
        .await;
        expect_error(r, status, code).await;
    }
    let r = send(&gw, Method::POST, "/admin/config/rollback/1", None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "rolled_back", "rolled_back_to": 1, "current_history_size": 3})
    );
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o");
    let h = gw.admin_json("/admin/config/history", KEY).await;
    assert_eq!(h["data"][2]["rolled_back_from"], 2);

    // a restart comes back on the active version, not the file
    gw.state.control.as_ref().unwrap().shutdown().await;
    drop(gw);
    let gw = Gw::start_at(data.path(), &env, Some(FILE)).await;
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o");
    assert_eq!(
        gw.admin_json("/admin/config/history", KEY).await["summary"]["total_versions"],
        3
    );
    // while the admin config rules, a file reload stands aside
    let penv = |k: &str| (k == "HELD_KEY").then(|| "sk-from-env-0123456789abcdef".to_owned());
    assert!(ferro_gateway::reload(&gw.state, &penv).is_err());
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o");

    // DELETE restores the boot (file) config and clears the stored one
    let r = send(&gw, Method::DELETE, "/admin/config", None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "deleted"})
    );
    assert_eq!(fast_goes_to(&gw).await, "gpt-4o-mini");
    assert!(
        ferro_gateway::reload(&gw.state, &penv).is_ok(),
        "file reloads resume after a reset"
    );
    drop(gw);
    let gw = Gw::start_at(data.path(), &env, Some(FILE)).await;
    assert_eq!(
        fast_goes_to(&gw).await,
        "gpt-4o-mini",
        "file config after a reset and restart"
    );
    let a = gw.admin_json("/admin/audit", KEY).await;
    let actions: Vec<&str> = a["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "config.update",
        "config.create",
        "config.rollback",
        "config.delete",
    ] {
        assert!(actions.contains(&want), "{want} audited: {actions:?}");
    }
}

#[tokio::test]
async fn defaults_are_shown_when_no_config_is_set() {
    let gw = Gw::start(&[]).await;
    let got = gw.admin_json("/admin/config", KEY).await;
    assert_eq!(got["strategy"]["mode"], "fallback");
    assert_eq!(got["targets"][0]["virtual_key"], "mock");
    let h = gw.admin_json("/admin/config/history", KEY).await;
    assert_eq!(h, json!({"data": [], "summary": {"total_versions": 0}}));
}
