//! The control plane on the real PostgreSQL at 127.0.0.1:5432, shared by two
//! gateways: a key made on one works on the other, a revoke on one is refused
//! by the other within 1 s, and both write and read one request log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use reqwest::Method;
use std::time::Duration;

const PG_BASE: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

async fn pg(sql: &str) {
    let (c, conn) = tokio_postgres::connect(PG_BASE, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, db test)");
    tokio::spawn(conn);
    c.batch_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_postgres_store() {
    let schema = format!("ferro_gw_{}", ferro_store::random_hex(6));
    pg(&format!("CREATE SCHEMA {schema}")).await;
    let dsn = format!("{PG_BASE} options='-c search_path={schema}'");
    let env = [
        ("API_KEY_STORE_BACKEND", "postgres"),
        ("API_KEY_STORE_DSN", dsn.as_str()),
        ("CONFIG_STORE_BACKEND", "postgresql"),
        ("CONFIG_STORE_DSN", dsn.as_str()),
        ("REQUEST_LOG_STORE_BACKEND", "postgres"),
        ("REQUEST_LOG_STORE_DSN", dsn.as_str()),
    ];
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Gw::start_at(d1.path(), &env, None).await;
    let b = Gw::start_at(d2.path(), &env, None).await;
    assert!(
        !d1.path().join("ferrogw-keys.db").exists(),
        "no SQLite file when postgres is selected"
    );

    let (id, secret) = a.create_key("shared", &["read_only"]).await;
    assert!(
        eventually(Duration::from_secs(1), || async {
            b.models_status(&secret).await == 200
        })
        .await
    );
    let r = a
        .admin(Method::POST, &format!("/admin/keys/{id}/revoke"), Some(KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        a.models_status(&secret).await,
        401,
        "at once on the instance that revoked"
    );
    let t0 = std::time::Instant::now();
    assert!(
        eventually(Duration::from_secs(1), || async {
            b.models_status(&secret).await == 401
        })
        .await
    );
    eprintln!(
        "postgres: revoke reached the other gateway in {:?}",
        t0.elapsed()
    );

    let r = b.chat(chat_body("gpt-4o-mini", "logged on b")).await;
    let trace = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        eventually(Duration::from_secs(1), || async {
            a.admin_json(&format!("/admin/logs?trace_id={trace}"), KEY)
                .await["summary"]["total_entries"]
                == 1
        })
        .await
    );
    let h = a.admin_json("/admin/health", KEY).await;
    assert_eq!(h["status"], "healthy", "{h}");
    drop((a, b));
    pg(&format!("DROP SCHEMA {schema} CASCADE")).await;
}
