//! `ferrogw admin …` against a live `ferrogw` process: output in each format,
//! exit codes (0 ok, 1 refused by the gateway, 2 bad flags / input, 3
//! unreachable, 4 auth), the credential fallbacks, and no secret in the
//! gateway's own log output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrogw");
const MASTER: &str = "fgw_cli_master_0123456789abcdef";
const PROVIDER_SECRET: &str = "sk-live-cli-provider-secret-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Gateway {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("gateway.log");
        let cfg = dir.path().join("gw.yaml");
        std::fs::write(
            &cfg,
            format!(
                "targets:\n  - virtual_key: demo\nproviders:\n  - name: demo\n    type: mock\n  - name: held\n    type: openai\n    api_key: {PROVIDER_SECRET}\n    base_url: http://127.0.0.1:9/v1\n"
            ),
        )
        .unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .env("PORT", port.to_string())
            .env("MASTER_KEY", MASTER)
            .env("GATEWAY_CONFIG", &cfg)
            .env("LOG_LEVEL", "debug")
            .env("FERRO_DATA_DIR", dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "gateway did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Gateway {
            child,
            url,
            log,
            _dir: dir,
        }
    }

    /// `ferrogw admin <args>` with FERROGW_URL / FERROGW_API_KEY set.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .env_clear()
            .env("FERROGW_URL", &self.url)
            .env("FERROGW_API_KEY", MASTER)
            .arg("admin")
            .args(args)
            .output()
            .unwrap()
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn ok_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn admin_cli_against_a_live_gateway() {
    let gw = Gateway::start();
    let h = ok_json(&gw.cli(&["health", "--format", "json"]));
    assert_eq!(h["status"], "healthy");

    // keys
    let k = ok_json(&gw.cli(&[
        "keys",
        "create",
        "--name",
        "cli-key",
        "--scope",
        "admin",
        "--expires-in",
        "720h",
        "--format",
        "json",
    ]));
    let (id, secret) = (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    );
    assert!(secret.starts_with("fgw_") && secret.len() == 68);
    assert!(k["expires_at"].is_string());
    gw.cli(&[
        "keys",
        "create",
        "--name",
        "second-admin",
        "--scope",
        "admin",
    ]);
    let table = stdout(&gw.cli(&["keys", "list"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("NAME") && header.contains("SCOPES"),
        "{table}"
    );
    assert!(
        table.contains("cli-key")
            && table.contains(&format!("{}...{}", &secret[..8], &secret[64..]))
    );
    assert!(!table.contains(&secret), "list never shows a secret");
    let y = stdout(&gw.cli(&["keys", "get", &id, "--format", "yaml"]));
    assert!(y.contains("name: cli-key") && y.contains("- admin"), "{y}");
    let r = ok_json(&gw.cli(&["keys", "rotate", &id, "--format", "json"]));
    let rotated = r["key"].as_str().unwrap().to_owned();
    assert_ne!(rotated, secret);
    // the rotated admin key works as the CLI credential (flag beats env)
    let o = Command::new(BIN)
        .env_clear()
        .env("FERROGW_URL", &gw.url)
        .env("FERROGW_API_KEY", "fgw_wrong")
        .args([
            "admin",
            "--api-key",
            &rotated,
            "keys",
            "list",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(ok_json(&o).as_array().unwrap().len(), 2);
    let out = stdout(&gw.cli(&["keys", "revoke", &id]));
    assert!(out.contains("revoked"), "{out}");

    // refusals exit 1 with the gateway's code on stderr
    let o = gw.cli(&["keys", "get", "no-such-id"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("resource_not_found"));
    let o = Command::new(BIN)
        .env_clear()
        .env("FERROGW_URL", &gw.url)
        .args(["admin", "keys", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing_api_key"));
    // MASTER_KEY is the last fallback
    let o = Command::new(BIN)
        .env_clear()
        .env("FERROGW_URL", &gw.url)
        .env("MASTER_KEY", MASTER)
        .args(["admin", "providers", "list"])
        .output()
        .unwrap();
    let t = stdout(&o);
    assert!(
        t.starts_with("NAME") && t.contains("demo") && t.contains("held"),
        "{t}"
    );
    // unreachable gateway exits 3, bad input 2
    let o = Command::new(BIN)
        .env_clear()
        .args([
            "admin",
            "--gateway-url",
            "http://127.0.0.1:1",
            "--api-key",
            "x",
            "health",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let o = gw.cli(&["config", "set", "--file", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = gw.cli(&["keys", "create", "--name", "x", "--scope", "root"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses unknown scopes");

    // config
    let c = ok_json(&gw.cli(&["config", "get", "--format", "json"]));
    assert_eq!(c["providers"][1]["api_key"], "[REDACTED]");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("new.json");
    std::fs::write(
        &f,
        r#"{"targets":[{"virtual_key":"demo"}],"providers":[{"name":"demo","type":"mock"}],"aliases":{"quick":"gpt-4o-mini"}}"#,
    )
    .unwrap();
    let out = stdout(&gw.cli(&["config", "set", "--file", f.to_str().unwrap()]));
    assert!(out.contains("updated"), "{out}");
    let c = ok_json(&gw.cli(&["config", "get", "--format", "json"]));
    assert_eq!(c["aliases"]["quick"], "gpt-4o-mini");
    let hist = stdout(&gw.cli(&["config", "history"]));
    assert!(
        hist.starts_with("VERSION") && hist.lines().count() == 2,
        "{hist}"
    );
    let o = gw.cli(&["config", "rollback", "7"]);
    assert_eq!(o.status.code(), Some(1));
    let rb = ok_json(&gw.cli(&["config", "rollback", "1", "--format", "json"]));
    assert_eq!(rb["status"], "rolled_back");

    // logs (a request first)
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"cli"}]}"#;
    let r = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("Authorization: Bearer {MASTER}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            &format!("{}/v1/chat/completions", gw.url),
        ])
        .output();
    if let Ok(r) = r {
        assert_eq!(String::from_utf8_lossy(&r.stdout), "200");
        std::thread::sleep(Duration::from_millis(300));
        let l = ok_json(&gw.cli(&["logs", "list", "--limit", "5", "--format", "json"]));
        assert_eq!(l["summary"]["returned_entries"], 1);
        let t = stdout(&gw.cli(&["logs", "list"]));
        assert!(t.starts_with("CREATED") && t.contains("demo"), "{t}");
    }
    let s = stdout(&gw.cli(&["logs", "stats"]));
    assert!(s.starts_with("FIELD") && s.contains("summary"), "{s}");

    // the gateway's own output never carries a secret
    let log = gw.stop();
    assert!(!log.is_empty());
    for secret in [MASTER, PROVIDER_SECRET, secret.as_str(), rotated.as_str()] {
        assert!(!log.contains(secret), "secret leaked into the gateway log");
    }
}
