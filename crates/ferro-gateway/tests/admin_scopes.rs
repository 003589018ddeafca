//! The scope matrix (CONTRACT §1.5, §4.2): every admin route × {no key,
//! read_only, admin, revoked, expired, suspended, read-only session, admin
//! session, master key} gets the right status. Calls that pass auth are made
//! harmless (unknown ids, invalid bodies) so the matrix does not change state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use reqwest::Method;
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Need {
    Read,
    Admin,
}

const NOID: &str = "00000000-0000-0000-0000-000000000000";

fn routes() -> Vec<(Method, String, Need)> {
    use Need::*;
    let m = |method: Method, p: &str, n: Need| (method, p.to_owned(), n);
    vec![
        m(Method::GET, "/admin/sessions", Read),
        m(Method::DELETE, &format!("/admin/sessions/{NOID}"), Admin),
        m(Method::GET, "/admin/dashboard", Read),
        m(Method::GET, "/admin/keys", Read),
        m(Method::POST, "/admin/keys", Admin),
        m(Method::GET, "/admin/keys/usage", Read),
        m(Method::GET, &format!("/admin/keys/{NOID}"), Read),
        m(Method::PUT, &format!("/admin/keys/{NOID}"), Admin),
        m(Method::DELETE, &format!("/admin/keys/{NOID}"), Admin),
        m(Method::POST, &format!("/admin/keys/{NOID}/revoke"), Admin),
        m(Method::POST, &format!("/admin/keys/{NOID}/rotate"), Admin),
        m(Method::GET, "/admin/logs", Read),
        m(Method::DELETE, "/admin/logs", Admin),
        m(Method::GET, "/admin/logs/stats", Read),
        m(Method::GET, "/admin/providers", Read),
        m(Method::GET, "/admin/providers/catalog", Read),
        m(Method::GET, "/admin/health", Read),
        m(Method::GET, "/admin/plugins", Read),
        m(Method::GET, "/admin/plugins/catalog", Read),
        m(Method::GET, "/admin/config", Read),
        m(Method::GET, "/admin/config/history", Read),
        m(Method::POST, "/admin/config", Admin),
        m(Method::PUT, "/admin/config", Admin),
        m(Method::POST, "/admin/config/rollback/999", Admin),
        m(Method::GET, "/admin/audit", Read),
        // wrong method: auth runs first, then 405
        m(Method::PATCH, "/admin/keys", Admin),
    ]
}

#[tokio::test]
async fn every_admin_route_by_credential() {
    // many failed-auth calls from one IP: keep the per-IP door out of the matrix
    let gw = Gw::start(&[("RATE_LIMIT_RPS", "0")]).await;
    let (_, admin) = gw.create_key("admin", &["admin"]).await;
    gw.create_key("spare-admin", &["admin"]).await;
    let (_, ro) = gw.create_key("ro", &["read_only"]).await;
    let (rid, revoked) = gw.create_key("revoked", &["admin"]).await;
    let (eid, expired) = gw.create_key("expired", &["admin"]).await;
    let (sid, suspended) = gw.create_key("suspended", &["admin"]).await;
    let put = |id: String, b: serde_json::Value| {
        let gw = &gw;
        async move {
            let r = gw
                .admin(Method::PUT, &format!("/admin/keys/{id}"), Some(KEY))
                .json(&b)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    let r = gw
        .admin(
            Method::POST,
            &format!("/admin/keys/{rid}/revoke"),
            Some(KEY),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    put(eid, json!({"expires_at": "2000-01-01T00:00:00Z"})).await;
    put(sid, json!({"active": false})).await;
    let session = |k: String| {
        let gw = &gw;
        async move {
            let r = gw
                .admin(Method::POST, "/admin/session", Some(&k))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<serde_json::Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ro_session = session(ro.clone()).await;
    let admin_session = session(admin.clone()).await;

    // (credential, label, max scope or the 401 code it gets)
    let creds: Vec<(Option<String>, &str, Result<Need, &str>)> = vec![
        (None, "none", Err("missing_api_key")),
        (Some(ro.clone()), "read_only", Ok(Need::Read)),
        (Some(admin.clone()), "admin", Ok(Need::Admin)),
        (Some(KEY.to_owned()), "master", Ok(Need::Admin)),
        (Some(revoked), "revoked", Err("invalid_api_key")),
        (Some(expired), "expired", Err("invalid_api_key")),
        (Some(suspended), "suspended", Err("invalid_api_key")),
        (Some(ro_session), "ro-session", Ok(Need::Read)),
        (Some(admin_session), "admin-session", Ok(Need::Admin)),
        (
            Some("fgws_".to_owned() + &"0".repeat(64)),
            "unknown-session",
            Err("invalid_api_key"),
        ),
    ];
    let mut checked = 0;
    for (cred, label, cap) in &creds {
        for (method, path, need) in routes() {
            let mut rb = gw.admin(method.clone(), &path, cred.as_deref());
            if method == Method::PUT || method == Method::POST {
                rb = rb
                    .header("content-type", "application/json")
                    .body("not json");
            }
            let r = rb.send().await.unwrap();
            let status = r.status().as_u16();
            let what = format!("{label}: {method} {path} → {status}");
            match cap {
                Err(code) => {
                    expect_error(r, 401, code).await;
                }
                Ok(have) if need == Need::Admin && *have == Need::Read => {
                    expect_error(r, 403, "insufficient_scope").await;
                }
                Ok(_) => {
                    assert!(status != 401 && status != 403 && status < 500, "{what}");
                    if method == Method::PATCH {
                        assert_eq!(status, 405, "{what}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, creds.len() * routes().len());
}

#[tokio::test]
async fn session_exchange_logout_and_unknown_paths() {
    let gw = Gw::start(&[]).await;
    let (_, ro) = gw.create_key("ro", &["read_only"]).await;
    // POST /admin/session authenticates its own bearer: 401 invalid_api_key on failure
    let r = gw
        .admin(Method::POST, "/admin/session", None)
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_api_key").await;
    let r = gw
        .admin(Method::POST, "/admin/session", Some(&ro))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // DELETE /admin/session is read-only tier
    let r = gw
        .admin(Method::DELETE, "/admin/session", None)
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "missing_api_key").await;
    let r = gw
        .admin(Method::DELETE, "/admin/session", Some(&ro))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "not_a_session").await;
    // revoke-all is admin
    let r = gw
        .admin(Method::DELETE, "/admin/sessions", Some(&ro))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "insufficient_scope").await;
    // unlisted admin paths: JSON 404 (no /admin/models, /admin/usage)
    for p in [
        "/admin/models",
        "/admin/usage",
        "/admin",
        "/admin/keys/a/b/c",
    ] {
        let r = gw.admin(Method::GET, p, Some(KEY)).send().await.unwrap();
        expect_error(r, 404, "resource_not_found").await;
    }
    // admin bodies obey max_request_bytes → 413
    let big = "x".repeat(11 * 1024 * 1024);
    let r = gw
        .admin(Method::POST, "/admin/keys", Some(KEY))
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "request_too_large").await;
}
