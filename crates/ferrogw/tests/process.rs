//! The real `ferrogw` binary: serves on PORT, drains on SIGTERM and exits within
//! 10 s, refuses unsafe production settings, validates configs offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_mock_upstream::{MockOptions, MockUpstream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrogw");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(url: &str) {
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{url}/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not become healthy");
}

#[tokio::test]
async fn sigterm_drains_in_flight_and_exits() {
    let up = MockUpstream::start_with(MockOptions {
        latency: Duration::from_millis(800),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PORT", port.to_string())
        .env("MASTER_KEY", "fgw_k")
        .env("OPENAI_API_KEY", "sk-x")
        .env("OPENAI_BASE_URL", up.url())
        .env("FERRO_DATA_DIR", dir.path().join("d"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url).await;
    let req = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("fgw_k")
        .header("content-type", "application/json")
        .body(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"drain me"}]}"#)
        .send();
    let in_flight = tokio::spawn(req);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "did not exit within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join("d").exists(), "data dir created");
}

#[test]
fn production_mode_refuses_unsafe_settings() {
    let out = Command::new(BIN)
        .env_clear()
        .env("PORT", free_port().to_string())
        .env("GATEWAY_ENV", "production")
        .env("ALLOW_UNAUTHENTICATED_PROXY", "true")
        .env("CORS_ORIGINS", "*")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ALLOW_UNAUTHENTICATED_PROXY") && err.contains("CORS_ORIGINS"),
        "{err}"
    );
}

#[test]
fn bad_config_fails_before_binding_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "targets:\n  - virtual_key: nosuch\nstrategy: {mode: nope}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .env("PORT", free_port().to_string())
        .env("GATEWAY_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("targets[0].virtual_key") && err.contains("strategy.mode"),
        "{err}"
    );
}

#[test]
fn validate_command_and_shipped_examples() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let p = entry.unwrap().path();
        if !matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            continue;
        }
        let out = Command::new(BIN).arg("validate").arg(&p).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n >= 2, "example configs are validated");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"targets":[{"virtual_key":"openai","wieght":1}]}"#).unwrap();
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wieght"));
}

#[test]
fn unknown_subcommand_never_boots() {
    let out = Command::new(BIN).arg("serv").output().unwrap();
    assert!(!out.status.success());
    let v = Command::new(BIN).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("ferrogw "));
    let _ = serde_json::json!({});
}
