//! The operator CLI against a live gateway (the real binary, built-in mock
//! provider): every command's output and exit code (0 ok, 1 failure, 2 usage,
//! 3 unreachable, 4 auth).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrogw");
const KEY: &str = "fgw_cli_test_master_key_0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A gateway process; killed on drop.
struct Gateway {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(url: &str) -> Option<u16> {
    // tiny blocking probe without an async runtime
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    use std::io::{Read, Write};
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split(' ').nth(1)?.parse().ok()
}

fn start_gateway() -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        "targets:\n  - virtual_key: mock\nplugins:\n  - name: word-filter\n    type: guardrail\n    stage: before_request\n    enabled: true\n    config: {blocked_words: [forbidden]}\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(BIN)
        .env_clear()
        .env("PORT", port.to_string())
        .env("MASTER_KEY", KEY)
        .env("GATEWAY_CONFIG", &cfg)
        .env("FERRO_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(&format!("{url}/health")) != Some(200) {
        assert!(Instant::now() < deadline, "gateway did not become healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway {
        child,
        url,
        _dir: dir,
    }
}

/// Runs the CLI with only `env` set.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_clear().args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn offline_commands_version_init_validate() {
    let o = run(&["version"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("ferrogw "), "{}", out(&o));
    let o = run(&["version", "--format", "json"], &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let alloc = if cfg!(feature = "jemalloc") {
        "jemalloc"
    } else {
        "system"
    };
    assert_eq!(v["allocator"], alloc);

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    let cfg_s = cfg.to_str().unwrap();
    let o = run(&["init", "--non-interactive", "-o", cfg_s], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("fgw_") && w.len() == 36)
        .expect("a master key: fgw_ + 32 hex");
    assert!(key[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        text.matches(key).count(),
        2,
        "printed once, plus the export line"
    );
    assert!(
        !std::fs::read_to_string(&cfg).unwrap().contains(key),
        "never written"
    );
    let o = run(&["validate", cfg_s], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // refusing to overwrite is a usage error
    let o = run(&["init", "--non-interactive", "-o", cfg_s], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--force"));
    // JSON, with a provider found in the environment, machine-readable output
    let json_cfg = dir.path().join("c.json");
    let o = run(
        &[
            "init",
            "--non-interactive",
            "--config-format",
            "json",
            "-o",
            json_cfg.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("GROQ_API_KEY", "gsk_x")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["provider"], "groq");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_cfg).unwrap()).unwrap();
    assert_eq!(written["targets"][0]["virtual_key"], "groq");
    assert_eq!(
        run(&["validate", json_cfg.to_str().unwrap()], &[])
            .status
            .code(),
        Some(0)
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "targets: [{virtual_key: nosuch}]\n").unwrap();
    let o = run(&["validate", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("nosuch"));
    assert_eq!(
        run(&["validate", "/no/such/file.yaml"], &[]).status.code(),
        Some(2)
    );
    // a usage error from the parser
    assert_eq!(run(&["chat", "hi"], &[]).status.code(), Some(2));
}

#[test]
fn unreachable_gateway_exits_3() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [
        &["status"][..],
        &["plugins"],
        &["chat", "hi", "--model", "m"],
    ] {
        let o = run(args, &[("FERROGW_URL", &url), ("MASTER_KEY", KEY)]);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", err(&o));
        assert!(err(&o).contains("unreachable"), "{}", err(&o));
    }
}

#[test]
fn live_gateway_commands() {
    let gw = start_gateway();
    let env = [("FERROGW_URL", gw.url.as_str()), ("FERROGW_API_KEY", KEY)];

    // status: health + admin providers
    let o = run(&["status"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = out(&o);
    assert!(
        s.contains("PROVIDER") && s.contains("mock") && s.contains("closed"),
        "{s}"
    );
    let o = run(&["status", "--format", "json"], &env);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["health"]["status"], "ok");
    assert_eq!(v["providers"][0]["name"], "mock");
    // the master key alone (MASTER_KEY) is the fallback credential
    let o = run(
        &["--format", "yaml", "status"],
        &[("FERROGW_URL", &gw.url), ("MASTER_KEY", KEY)],
    );
    assert!(out(&o).contains("status: ok"), "{}", out(&o));

    // plugins
    let o = run(&["plugins"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = out(&o);
    assert!(
        s.starts_with("NAME") && s.contains("word-filter") && s.contains("guardrail"),
        "{s}"
    );
    let o = run(&["plugins", "--api-key", "fgw_wrong"], &env);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    assert!(err(&o).contains("invalid API key"));

    // chat: streamed reply on stdout, summary on stderr
    let o = run(&["chat", "hello there", "--model", "gpt-4o-mini"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("You said: hello there"), "{}", out(&o));
    let summary = err(&o);
    assert!(
        summary.contains("tokens") && summary.contains("trace "),
        "{summary}"
    );
    let o = run(
        &["chat", "hi", "--model", "gpt-4o-mini", "--format", "json"],
        &env,
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["provider"], "mock");
    // a guardrail denial is a failure (1), a bad key an auth failure (4)
    let o = run(
        &["chat", "a forbidden word", "--model", "gpt-4o-mini"],
        &env,
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let o = run(
        &["chat", "hi", "--model", "gpt-4o-mini"],
        &[("FERROGW_URL", &gw.url), ("FERROGW_API_KEY", "fgw_wrong")],
    );
    assert_eq!(o.status.code(), Some(4));

    // logs tail: the newest rows, then follow (rows are written within 1 s)
    std::thread::sleep(Duration::from_millis(300));
    let o = run(&["logs", "tail", "--no-follow", "-n", "5"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("mock/gpt-4o-mini")),
        "{lines:?}"
    );
    let o = run(
        &[
            "logs",
            "tail",
            "--no-follow",
            "--errors",
            "--format",
            "json",
        ],
        &env,
    );
    let rows: Vec<Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["status"].as_u64() >= Some(400)));
    follow_sees_new_rows(&gw, &env);

    // doctor: environment + gateway checks
    let o = run(
        &["doctor"],
        &[("FERROGW_URL", &gw.url), ("MASTER_KEY", KEY)],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let s = out(&o);
    assert!(
        s.contains("✓ gateway") && s.contains("✓ credential") && s.contains("all checks passed"),
        "{s}"
    );
    let bad = gw._dir.path().join("bad.yaml");
    std::fs::write(&bad, "targets: []\n").unwrap();
    let o = run(
        &["doctor", "--offline", "--format", "json"],
        &[("GATEWAY_CONFIG", bad.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "config" && c["status"] == "fail"));
}

/// `logs tail` (following) prints a request made after it started, once.
fn follow_sees_new_rows(gw: &Gateway, env: &[(&str, &str)]) {
    let mut c = Command::new(BIN);
    c.env_clear().args([
        "logs",
        "tail",
        "-n",
        "0",
        "--interval-ms",
        "200",
        "--format",
        "json",
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(400));
    let o = Command::new(BIN)
        .env_clear()
        .env("FERROGW_URL", &gw.url)
        .env("FERROGW_API_KEY", KEY)
        .args(["chat", "follow me", "--model", "gpt-4o-mini", "--no-stream"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push(l);
            if seen.iter().any(|l| l.contains("\"route\":\"chat\"")) {
                break;
            }
        }
    }
    // a little longer: a second poll must not repeat the row
    std::thread::sleep(Duration::from_millis(600));
    while let Ok(l) = rx.try_recv() {
        seen.push(l);
    }
    let _ = child.kill();
    let _ = child.wait();
    let rows: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{seen:?}");
    assert_eq!(rows[0]["model"], "gpt-4o-mini");
}
