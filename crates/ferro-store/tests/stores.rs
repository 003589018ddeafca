//! One store suite, run on every backend: SQLite file, SQLite in memory, and the
//! real PostgreSQL at 127.0.0.1:5432 (each run in its own schema, dropped after).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_store::migrate::Component;
use ferro_store::*;
use std::sync::Arc;

const ALL: [Component; 3] = [Component::Auth, Component::Config, Component::Logs];
const PG_BASE: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// A throwaway PostgreSQL schema; dropped (with everything in it) on drop.
struct PgSchema {
    name: String,
}

impl PgSchema {
    async fn new() -> PgSchema {
        let name = format!("ferro_t_{}", random_hex(6));
        let (c, conn) = tokio_postgres::connect(PG_BASE, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, db test)");
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        PgSchema { name }
    }

    fn dsn(&self) -> String {
        format!("{PG_BASE} options='-c search_path={}'", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(PG_BASE, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn key(id: &str, secret: &str, scopes: &[&str], created_at: i64) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        key_hash: sha256_hex(secret),
        key_display: format!("{}...{}", &secret[..8], &secret[secret.len() - 4..]),
        name: format!("key {id}"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at,
        revoked_at: None,
        expires_at: None,
        rotated_at: None,
        active: true,
        usage_count: 0,
        last_used_at: None,
    }
}

async fn keys_suite(s: &SqlStore) {
    let v0 = s.auth_version().await.unwrap();
    let a = key("a", "fgw_aaaaaaaaaaaaaaaa", &["admin"], 1_000);
    let b = key("b", "fgw_bbbbbbbbbbbbbbbb", &["read_only"], 2_000);
    s.insert_key(&a).await.unwrap();
    s.insert_key(&b).await.unwrap();
    assert_eq!(s.auth_version().await.unwrap(), v0 + 2);
    let all = s.list_keys().await.unwrap();
    assert_eq!(
        all.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(s.get_key("a").await.unwrap().as_ref(), Some(&a));
    assert_eq!(s.get_key("zz").await.unwrap(), None);
    // duplicate hash refused
    assert!(s
        .insert_key(&key("c", "fgw_aaaaaaaaaaaaaaaa", &[], 3))
        .await
        .is_err());

    let mut a2 = a.clone();
    a2.name = "renamed".into();
    a2.scopes = vec!["read_only".into()];
    a2.expires_at = Some(5_000);
    a2.active = false;
    assert!(s.update_key(&a2).await.unwrap());
    assert_eq!(s.get_key("a").await.unwrap().as_ref(), Some(&a2));
    assert!(!a2.usable(0) && a.usable(10_000));
    let mut gone = a2.clone();
    gone.id = "nope".into();
    assert!(!s.update_key(&gone).await.unwrap());

    let v1 = s.auth_version().await.unwrap();
    s.record_usage(&[
        UsageDelta {
            id: "b".into(),
            count: 3,
            last_used_at: 9_000,
        },
        UsageDelta {
            id: "b".into(),
            count: 2,
            last_used_at: 8_000,
        },
        UsageDelta {
            id: "missing".into(),
            count: 1,
            last_used_at: 1,
        },
    ])
    .await
    .unwrap();
    let b2 = s.get_key("b").await.unwrap().unwrap();
    assert_eq!((b2.usage_count, b2.last_used_at), (5, Some(9_000)));
    assert_eq!(
        s.auth_version().await.unwrap(),
        v1,
        "usage does not bump the auth version"
    );

    assert!(s.delete_key("a").await.unwrap());
    assert!(!s.delete_key("a").await.unwrap());
    assert_eq!(s.list_keys().await.unwrap().len(), 1);
    assert!(s.auth_version().await.unwrap() > v1);
}

async fn sessions_suite(s: &SqlStore) {
    let v0 = s.auth_version().await.unwrap();
    let mk = |id: &str, exp: i64| SessionRecord {
        id: id.into(),
        token_hash: sha256_hex(id),
        credential_id: "b".into(),
        subject: "key b".into(),
        scopes: vec!["read_only".into()],
        created_at: 10,
        last_seen_at: None,
        expires_at: exp,
    };
    s.insert_session(&mk("s1", 100)).await.unwrap();
    s.insert_session(&mk("s2", 1_000)).await.unwrap();
    assert_eq!(s.auth_version().await.unwrap(), v0 + 2);
    s.touch_sessions(&[("s1".into(), 50), ("s1".into(), 40)])
        .await
        .unwrap();
    let l = s.list_sessions().await.unwrap();
    let s1 = l.iter().find(|x| x.id == "s1").unwrap();
    assert_eq!(s1.last_seen_at, Some(50));
    assert_eq!(s.prune_sessions(500).await.unwrap(), 1);
    assert!(s.delete_session("s2").await.unwrap());
    assert!(!s.delete_session("s2").await.unwrap());
    s.insert_session(&mk("s3", 1_000)).await.unwrap();
    s.insert_session(&mk("s4", 1_000)).await.unwrap();
    assert_eq!(s.delete_all_sessions().await.unwrap(), 2);
    assert!(s.list_sessions().await.unwrap().is_empty());
}

async fn audit_suite(s: &SqlStore) {
    for (i, (action, outcome)) in [
        ("key.create", "ok"),
        ("key.delete", "denied"),
        ("key.create", "ok"),
    ]
    .iter()
    .enumerate()
    {
        s.append_audit(&AuditEntry {
            occurred_at: 100 + i as i64,
            action: action.to_string(),
            actor: "admin (k1)".into(),
            actor_id: Some(if i == 1 { "k2" } else { "k1" }.into()),
            target_id: Some(format!("t{i}")),
            outcome: outcome.to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let (all, total) = s.list_audit(&AuditFilter::default(), 50, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(all[0].target_id.as_deref(), Some("t2"), "newest first");
    let f = AuditFilter {
        action: Some("key.create".into()),
        ..Default::default()
    };
    let (page, total) = s.list_audit(&f, 1, 1).await.unwrap();
    assert_eq!(
        (total, page.len(), page[0].target_id.as_deref()),
        (2, 1, Some("t0"))
    );
    let f = AuditFilter {
        outcome: Some("denied".into()),
        actor_id: Some("k2".into()),
        since: Some(101),
        ..Default::default()
    };
    assert_eq!(s.list_audit(&f, 50, 0).await.unwrap().1, 1);
    let f = AuditFilter {
        since: Some(102),
        ..Default::default()
    };
    assert_eq!(s.list_audit(&f, 50, 0).await.unwrap().1, 1);
}

async fn config_suite(s: &SqlStore) {
    assert_eq!(s.active_config().await.unwrap(), None);
    assert!(s.history().await.unwrap().is_empty());
    let v1 = s
        .commit(r#"{"v":1}"#, Some("admin (x)"), None, Some(r#"{"v":1}"#))
        .await
        .unwrap();
    let v2 = s
        .commit(r#"{"v":2}"#, None, None, Some(r#"{"v":2}"#))
        .await
        .unwrap();
    assert_eq!((v1, v2), (1, 2));
    assert_eq!(
        s.active_config().await.unwrap().as_deref(),
        Some(r#"{"v":2}"#)
    );
    let e1 = s.history_entry(1).await.unwrap().unwrap();
    let v3 = s
        .commit(
            &e1.config_json,
            Some("admin (x)"),
            Some(2),
            Some(&e1.config_json),
        )
        .await
        .unwrap();
    assert_eq!(v3, 3);
    let h = s.history().await.unwrap();
    assert_eq!(h.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(h[2].rolled_back_from, Some(2));
    assert_eq!(h[0].actor.as_deref(), Some("admin (x)"));
    assert_eq!(
        s.active_config().await.unwrap().as_deref(),
        Some(r#"{"v":1}"#)
    );
    assert_eq!(s.commit("{}", None, None, None).await.unwrap(), 4);
    assert_eq!(s.active_config().await.unwrap(), None);
    assert_eq!(s.history_entry(99).await.unwrap(), None);
}

fn log(i: i64) -> LogRow {
    LogRow {
        trace_id: format!("{i:032x}"),
        stage: if i % 5 == 0 {
            "on_error"
        } else {
            "after_request"
        }
        .into(),
        route: "chat".into(),
        model: if i % 2 == 0 { "gpt-4o-mini" } else { "gpt-4o" }.into(),
        api_key_id: if i % 3 == 0 {
            String::new()
        } else {
            "k1".into()
        },
        provider: if i % 4 == 0 { "groq" } else { "openai" }.into(),
        target: "openai".into(),
        status: if i % 5 == 0 { 502 } else { 200 },
        stream: i % 7 == 0,
        cache_hit: false,
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        cost_usd: if i % 2 == 0 { Some(0.001) } else { None },
        error_message: (i % 5 == 0).then(|| "upstream failed".to_owned()),
        created_at: 1_000_000 + i,
        duration_ms: Some(i as f64),
        ttft_ms: (i % 7 == 0).then_some(1.5),
    }
}

async fn logs_suite(s: &SqlStore) {
    let rows: Vec<LogRow> = (0..250).map(log).collect();
    s.insert_logs(&rows).await.unwrap();
    s.insert_logs(&[]).await.unwrap();
    assert_eq!(s.count_logs().await.unwrap(), 250);
    let (page, total) = s.list_logs(&LogFilter::default(), 10, 0).await.unwrap();
    assert_eq!((total, page.len()), (250, 10));
    assert_eq!(page[0], rows[249], "newest first, every field round-trips");
    assert_eq!(page[1].created_at, rows[248].created_at);
    let f = LogFilter {
        stages: vec!["on_error".into()],
        ..Default::default()
    };
    assert_eq!(s.list_logs(&f, 200, 0).await.unwrap().1, 50);
    let f = LogFilter {
        model: Some("gpt-4o".into()),
        provider: Some("openai".into()),
        ..Default::default()
    };
    assert_eq!(s.list_logs(&f, 200, 0).await.unwrap().1, 125);
    let f = LogFilter {
        api_key_id: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(s.list_logs(&f, 200, 0).await.unwrap().1, 84);
    let f = LogFilter {
        trace_id: Some(format!("{:032x}", 7)),
        ..Default::default()
    };
    let (one, _) = s.list_logs(&f, 200, 0).await.unwrap();
    assert_eq!(one, vec![rows[7].clone()]);
    let f = LogFilter {
        since: Some(1_000_200),
        ..Default::default()
    };
    assert_eq!(s.scan_logs(&f, 1_000).await.unwrap().len(), 50);
    assert_eq!(
        s.scan_logs(&LogFilter::default(), 7).await.unwrap().len(),
        7
    );
    let (p2, _) = s.list_logs(&LogFilter::default(), 5, 245).await.unwrap();
    assert_eq!(p2.last().map(|r| r.created_at), Some(1_000_000));
    let f = LogFilter {
        before: Some(1_000_100),
        stages: vec!["on_error".into()],
        ..Default::default()
    };
    assert_eq!(s.delete_logs(&f).await.unwrap(), 20);
    assert_eq!(s.count_logs().await.unwrap(), 230);
}

async fn full_suite(s: SqlStore) {
    keys_suite(&s).await;
    sessions_suite(&s).await;
    audit_suite(&s).await;
    config_suite(&s).await;
    logs_suite(&s).await;
    s.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_file_suite() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqlStore::sqlite(&dir.path().join("sub").join("ferro.db"), &ALL).unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    full_suite(s).await;
}

#[tokio::test]
async fn memory_suite() {
    let s = SqlStore::memory(&ALL).unwrap();
    assert_eq!(s.backend(), Backend::Memory);
    full_suite(s).await;
}

#[tokio::test]
async fn postgres_suite() {
    let schema = PgSchema::new().await;
    let s = SqlStore::postgres_async(&schema.dsn(), &ALL).await.unwrap();
    assert_eq!(s.backend(), Backend::Postgres);
    full_suite(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sync_open_inside_a_runtime() {
    let schema = PgSchema::new().await;
    // the gateway's start-up path: synchronous, called from within a runtime
    let s = SqlStore::postgres(&schema.dsn(), &[Component::Config]).unwrap();
    assert_eq!(s.commit("{}", None, None, Some("{}")).await.unwrap(), 1);
}

#[tokio::test]
async fn postgres_concurrent_starts_migrate_once() {
    let schema = PgSchema::new().await;
    let dsn = Arc::new(schema.dsn());
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let dsn = dsn.clone();
        tasks.push(tokio::spawn(async move {
            SqlStore::postgres_async(&dsn, &ALL).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (c, conn) = tokio_postgres::connect(&schema.dsn(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    let expected: usize = ALL.iter().map(|c| c.migrations().len()).sum();
    assert_eq!(n as usize, expected);
}

#[tokio::test]
async fn sqlite_file_is_owner_only_persistent_and_migrated_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    {
        let s = SqlStore::sqlite(&path, &ALL).unwrap();
        s.insert_key(&key("a", "fgw_aaaaaaaaaaaaaaaa", &["admin"], 1))
            .await
            .unwrap();
        s.commit("{\"x\":1}", None, None, Some("{\"x\":1}"))
            .await
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let m = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(m & 0o077, 0, "{} is {m:o}", p.display());
    }
    let s = SqlStore::sqlite(&path, &ALL).unwrap();
    assert_eq!(s.list_keys().await.unwrap().len(), 1);
    assert_eq!(
        s.active_config().await.unwrap().as_deref(),
        Some("{\"x\":1}")
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn backend_spellings() {
    assert_eq!(Backend::parse("PostgreSQL"), Some(Backend::Postgres));
    assert_eq!(Backend::parse("in-memory"), Some(Backend::Memory));
    assert_eq!(Backend::parse("sqlite"), Some(Backend::Sqlite));
    assert_eq!(Backend::parse("redis"), None);
}
