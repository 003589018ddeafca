//! `/admin/keys*`, sessions and the audit trail over real HTTP (CONTRACT §4):
//! formats, masking, update/suspend/resume, revoke/rotate effective at once,
//! guards, usage counters, the usage listing, sessions, audit actors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn body(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

#[tokio::test]
async fn create_list_get_update_delete() {
    let gw = Gw::start(&[]).await;
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(KEY))
        .json(&json!({"name": "ci", "scopes": ["read_only"], "ignored_field": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let created = body(r).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fgw_") && secret.len() == 68, "{secret}");
    assert!(secret[4..]
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(created["scopes"], json!(["read_only"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["usage_count"], 0);
    assert!(created.get("revoked_at").is_none() && created.get("expires_at").is_none());

    // masked everywhere after creation
    let list = gw.admin_json("/admin/keys", KEY).await;
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    // another admin key, so the last-admin guard stays out of this test
    gw.create_key("anchor", &["admin"]).await;
    let display = format!("{}...{}", &secret[..8], &secret[64..]);
    assert_eq!(arr[0]["key"], display);
    assert!(!list.to_string().contains(&secret));
    let one = gw.admin_json(&format!("/admin/keys/{id}"), KEY).await;
    assert_eq!(one["key"], display);

    // default scopes, unknown scope, missing name
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(KEY))
        .json(&json!({"name": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await["scopes"], json!(["read_only"]));
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(KEY))
        .json(&json!({"name": "x", "scopes": ["root"]}))
        .send()
        .await
        .unwrap();
    let msg = expect_error(r, 400, "invalid_scope").await;
    assert!(msg.contains("admin") && msg.contains("read_only"));
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(KEY))
        .json(&json!({"scopes": []}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;

    // the new key works on /v1 at once, and its use is counted within 1 s
    assert_eq!(gw.models_status(&secret).await, 200);
    let counted = eventually(Duration::from_secs(1), || async {
        let k = gw.admin_json(&format!("/admin/keys/{id}"), KEY).await;
        k["usage_count"] == 1 && k["last_used_at"].is_string()
    })
    .await;
    assert!(counted, "usage_count / last_used_at within 1 s");

    // update: name, scopes, expiry, clear_expiration; empty name keeps name
    let upd = |b: Value| {
        gw.admin(Method::PUT, &format!("/admin/keys/{id}"), Some(KEY))
            .json(&b)
            .send()
    };
    let v = body(upd(json!({"name": "renamed", "scopes": ["admin"], "expires_at": "2999-01-01T00:00:00+02:00"})).await.unwrap()).await;
    assert_eq!(
        (v["name"].as_str(), v["scopes"].clone()),
        (Some("renamed"), json!(["admin"]))
    );
    assert_eq!(v["expires_at"], "2998-12-31T22:00:00Z");
    let v = body(
        upd(json!({"name": "", "scopes": [], "clear_expiration": true}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["name"], "renamed");
    assert_eq!(v["scopes"], json!(["admin"]));
    assert!(v.get("expires_at").is_none());
    expect_error(
        upd(json!({"scopes": ["nope"]})).await.unwrap(),
        400,
        "invalid_scope",
    )
    .await;

    // ★9 suspend / resume
    let v = body(upd(json!({"active": false})).await.unwrap()).await;
    assert_eq!(v["active"], false);
    assert_eq!(gw.models_status(&secret).await, 401, "suspended at once");
    body(upd(json!({"active": true})).await.unwrap()).await;
    assert_eq!(gw.models_status(&secret).await, 200, "resumed at once");

    // expired keys are refused
    body(
        upd(json!({"expires_at": "2001-01-01T00:00:00Z"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(gw.models_status(&secret).await, 401);

    // delete → 204, then 404
    let r = gw
        .admin(Method::DELETE, &format!("/admin/keys/{id}"), Some(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = gw
        .admin(Method::GET, &format!("/admin/keys/{id}"), Some(KEY))
        .send()
        .await
        .unwrap();
    let _ = expect_error(r, 404, "resource_not_found").await;
    let r = gw
        .admin(Method::PUT, "/admin/keys/nope", Some(KEY))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "resource_not_found").await;
}

#[tokio::test]
async fn revoke_and_rotate_take_effect_at_once() {
    let gw = Gw::start(&[]).await;
    let (id, secret) = gw.create_key("svc", &["read_only"]).await;
    assert_eq!(gw.models_status(&secret).await, 200);

    let r = gw
        .admin(Method::POST, &format!("/admin/keys/{id}/rotate"), Some(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let rotated = body(r).await;
    let new_secret = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["id"], id.as_str());
    assert!(rotated["rotated_at"].is_string());
    assert_eq!(
        gw.models_status(&secret).await,
        401,
        "old secret invalid immediately"
    );
    assert_eq!(gw.models_status(&new_secret).await, 200);

    let r = gw
        .admin(Method::POST, &format!("/admin/keys/{id}/revoke"), Some(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await, json!({"status": "revoked"}));
    assert_eq!(
        gw.models_status(&new_secret).await,
        401,
        "revoked immediately"
    );
    let k = gw.admin_json(&format!("/admin/keys/{id}"), KEY).await;
    assert_eq!(k["active"], false);
    assert!(k["revoked_at"].is_string());
    // a revoked key cannot be resumed
    let r = gw
        .admin(Method::PUT, &format!("/admin/keys/{id}"), Some(KEY))
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

#[tokio::test]
async fn self_mutation_and_last_admin_guards() {
    let gw = Gw::start(&[]).await;
    let (a1, s1) = gw.create_key("admin-1", &["admin"]).await;
    // the only admin key cannot be revoked, deleted, suspended or de-scoped (even by the master key)
    for (m, p, b) in [
        (Method::POST, format!("/admin/keys/{a1}/revoke"), None),
        (Method::DELETE, format!("/admin/keys/{a1}"), None),
        (
            Method::PUT,
            format!("/admin/keys/{a1}"),
            Some(json!({"active": false})),
        ),
        (
            Method::PUT,
            format!("/admin/keys/{a1}"),
            Some(json!({"scopes": ["read_only"]})),
        ),
    ] {
        let mut rb = gw.admin(m, &p, Some(KEY));
        if let Some(b) = b {
            rb = rb.json(&b);
        }
        expect_error(rb.send().await.unwrap(), 409, "last_admin_key").await;
    }
    let (a2, _s2) = gw.create_key("admin-2", &["admin"]).await;
    // a key cannot revoke / delete / de-scope itself
    let r = gw
        .admin(Method::POST, &format!("/admin/keys/{a1}/revoke"), Some(&s1))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "self_mutation_forbidden").await;
    let r = gw
        .admin(Method::DELETE, &format!("/admin/keys/{a1}"), Some(&s1))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "self_mutation_forbidden").await;
    let r = gw
        .admin(Method::PUT, &format!("/admin/keys/{a1}"), Some(&s1))
        .json(&json!({"scopes": ["read_only"]}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "self_mutation_forbidden").await;
    // but renaming itself and rotating itself are fine
    let r = gw
        .admin(Method::PUT, &format!("/admin/keys/{a1}"), Some(&s1))
        .json(&json!({"name": "me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // admin-1 may revoke admin-2 (another admin remains)
    let r = gw
        .admin(Method::POST, &format!("/admin/keys/{a2}/revoke"), Some(&s1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // denials are audited
    let audit = gw.admin_json("/admin/audit?outcome=denied", KEY).await;
    assert!(
        audit["summary"]["total_entries"].as_i64().unwrap() >= 7,
        "{audit}"
    );
}

#[tokio::test]
async fn usage_listing_and_audit_trail() {
    let gw = Gw::start(&[]).await;
    let (a, sa) = gw.create_key("busy", &["read_only"]).await;
    let (_b, _sb) = gw.create_key("idle", &["read_only"]).await;
    let (c, _sc) = gw.create_key("suspended", &["read_only"]).await;
    gw.admin(Method::PUT, &format!("/admin/keys/{c}"), Some(KEY))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(gw.models_status(&sa).await, 200);
    }
    assert!(
        eventually(Duration::from_secs(1), || async {
            gw.admin_json("/admin/keys/usage", KEY).await["summary"]["total_usage"] == 3
        })
        .await
    );
    let u = gw
        .admin_json("/admin/keys/usage?limit=2&sort=usage", KEY)
        .await;
    assert_eq!(
        u["summary"],
        json!({"total_keys": 3, "active_keys": 2, "total_usage": 3, "returned_keys": 2})
    );
    assert_eq!(u["data"][0]["id"], a.as_str());
    assert_eq!(u["filters"]["limit"], 2);
    assert_eq!(u["filters"]["sort"], "usage");
    let u = gw.admin_json("/admin/keys/usage?active=false", KEY).await;
    assert_eq!(u["data"].as_array().unwrap().len(), 1);
    let u = gw
        .admin_json(
            "/admin/keys/usage?since=2000-01-01T00:00:00Z&sort=last_used",
            KEY,
        )
        .await;
    assert_eq!(
        u["data"].as_array().unwrap().len(),
        1,
        "since filters by last_used_at"
    );
    let u = gw.admin_json("/admin/keys/usage?limit=500", KEY).await;
    assert_eq!(u["filters"]["limit"], 100);
    let r = gw
        .admin(Method::GET, "/admin/keys/usage?sort=name", Some(KEY))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;

    let audit = gw.admin_json("/admin/audit?action=key.create", KEY).await;
    assert_eq!(audit["summary"]["total_entries"], 3);
    let e = &audit["data"][0];
    let master_id = gw
        .state
        .control
        .as_ref()
        .unwrap()
        .master_id
        .clone()
        .unwrap();
    assert_eq!(
        e["actor"],
        master_id.as_str(),
        "the master key acts under its id alone"
    );
    assert_eq!(e["actor_id"], master_id.as_str());
    assert_eq!(e["outcome"], "ok");
    assert!(e["occurred_at"].is_string() && e["trace_id"].is_string());
    assert_eq!(audit["filters"], json!({"action": "key.create"}));
    // a stored admin key acts as "<name> (<id>)"
    let (aid, asec) = gw.create_key("ops", &["admin"]).await;
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(&asec))
        .json(&json!({"name": "by-ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let audit = gw
        .admin_json(&format!("/admin/audit?actor_id={aid}"), KEY)
        .await;
    assert_eq!(audit["data"][0]["actor"], format!("ops ({aid})"));
    let audit = gw.admin_json("/admin/audit?limit=1&offset=1", KEY).await;
    assert_eq!(audit["summary"]["returned_entries"], 1);
}

#[tokio::test]
async fn dashboard_sessions() {
    let gw = Gw::start(&[]).await;
    let (kid, ksec) = gw.create_key("viewer", &["read_only"]).await;
    let r = gw
        .admin(Method::POST, "/admin/session", Some(&ksec))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let s = body(r).await;
    let token = s["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("fgws_") && token.len() == 69);
    assert_eq!(
        (s["subject"].as_str(), s["scopes"].clone()),
        (Some("viewer"), json!(["read_only"]))
    );
    assert!(s["expires_at"].is_string());

    // the session authenticates admin reads and /v1, not admin writes
    assert_eq!(
        gw.admin(Method::GET, "/admin/keys", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(gw.models_status(&token).await, 200);
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(&token))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "insufficient_scope").await;
    let list = gw.admin_json("/admin/sessions", KEY).await;
    let sess = &list["data"][0];
    assert_eq!(sess["credential_id"], kid.as_str());
    assert_eq!(sess["subject"], "viewer");
    let sid = sess["id"].as_str().unwrap().to_owned();
    assert_eq!(sid.len(), 32);

    // the source key's scopes replace the session's; revoking it invalidates the session
    gw.admin(Method::PUT, &format!("/admin/keys/{kid}"), Some(KEY))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    let r = gw
        .admin(Method::GET, "/admin/keys", Some(&token))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_session").await;
    gw.admin(Method::PUT, &format!("/admin/keys/{kid}"), Some(KEY))
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        gw.admin(Method::GET, "/admin/keys", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // logout: only a session may; then the token is dead
    let r = gw
        .admin(Method::DELETE, "/admin/session", Some(&ksec))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "not_a_session").await;
    let r = gw
        .admin(Method::DELETE, "/admin/session", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = gw
        .admin(Method::GET, "/admin/keys", Some(&token))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_api_key").await;

    // revoke one (idempotent) and all
    let t2 = body(
        gw.admin(Method::POST, "/admin/session", Some(KEY))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let t3 = body(
        gw.admin(Method::POST, "/admin/session", Some(KEY))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(t2["scopes"], json!(["admin"]));
    let sessions = gw.admin_json("/admin/sessions", KEY).await;
    let first = sessions["data"][0]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = gw
            .admin(
                Method::DELETE,
                &format!("/admin/sessions/{first}"),
                Some(KEY),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let r = gw
        .admin(Method::DELETE, "/admin/sessions", Some(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await, json!({"revoked": 1}));
    for t in [&t2, &t3] {
        assert_eq!(gw.models_status(t["token"].as_str().unwrap()).await, 401);
    }
    // a bad credential cannot get a session, and the attempt is audited
    let r = gw
        .admin(Method::POST, "/admin/session", Some("fgw_nope"))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_api_key").await;
    let a = gw
        .admin_json("/admin/audit?action=session.create&outcome=denied", KEY)
        .await;
    assert_eq!(a["summary"]["total_entries"], 1);
    assert_eq!(a["data"][0]["actor"], "unattributed");
}

#[tokio::test]
async fn keys_sessions_and_audit_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let (id, secret) = {
        let gw = Gw::start_at(data.path(), &[], None).await;
        let k = gw.create_key("durable", &["read_only"]).await;
        assert_eq!(gw.models_status(&k.1).await, 200);
        gw.state.control.as_ref().unwrap().shutdown().await;
        k
    };
    let gw = Gw::start_at(data.path(), &[], None).await;
    let k = gw.admin_json(&format!("/admin/keys/{id}"), KEY).await;
    assert_eq!(k["usage_count"], 1, "usage flushed on shutdown");
    assert_eq!(
        gw.models_status(&secret).await,
        200,
        "key still valid after restart"
    );
    let a = gw.admin_json("/admin/audit?action=key.create", KEY).await;
    assert_eq!(a["summary"]["total_entries"], 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "ferrogw-keys.db",
            "ferrogw-config.db",
            "ferrogw-requests.db",
        ] {
            let m = std::fs::metadata(data.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600, "{f}");
        }
    }
}

#[tokio::test]
async fn a_revoke_reaches_another_instance_within_a_second() {
    // two gateways sharing one SQLite key store (the same holds for PostgreSQL)
    let data = tempfile::tempdir().unwrap();
    let a = Gw::start_at(data.path(), &[], None).await;
    let b = Gw::start_at(data.path(), &[], None).await;
    let (id, secret) = a.create_key("shared", &["read_only"]).await;
    assert!(
        eventually(Duration::from_secs(1), || async {
            b.models_status(&secret).await == 200
        })
        .await
    );
    a.admin(Method::POST, &format!("/admin/keys/{id}/revoke"), Some(KEY))
        .send()
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(
        eventually(Duration::from_secs(1), || async {
            b.models_status(&secret).await == 401
        })
        .await
    );
    eprintln!(
        "revoke propagated to the second instance in {:?}",
        t0.elapsed()
    );
}
