//! `ferrogw doctor`: a checklist of this environment (settings, master key,
//! config file, providers, data directory) and of the gateway at
//! `--gateway-url` (reachable, ready, credential accepted). Exit 0 when no
//! check failed (warnings allowed), 1 otherwise.

use super::client::{CliError, Client};
use super::output::{Format, Style};
use super::spinner::Spinner;
use super::{Exit, Global};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip the checks that talk to the gateway.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
    Info,
}

#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    level: Level,
    detail: String,
}

fn check(name: &'static str, level: Level, detail: impl Into<String>) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn local_checks() -> Vec<Check> {
    let mut out = Vec::new();
    match ferro_gateway::settings::Settings::from_env(&env) {
        Ok(s) => {
            out.push(check("settings", Level::Ok, format!("port {}", s.port)));
            for w in s.warnings() {
                out.push(check("settings", Level::Warn, w));
            }
            data_dir(&s.data_dir, &mut out);
        }
        Err(errs) => {
            for e in errs {
                out.push(check("settings", Level::Fail, e));
            }
        }
    }
    match env("MASTER_KEY") {
        None => out.push(check(
            "master key",
            Level::Warn,
            "MASTER_KEY is not set: only stored keys can authenticate (`ferrogw init` makes one)",
        )),
        Some(k) if k.trim().len() < 20 => out.push(check(
            "master key",
            Level::Warn,
            format!(
                "MASTER_KEY is short ({} chars); use `ferrogw init` for a strong one",
                k.trim().len()
            ),
        )),
        Some(_) => out.push(check("master key", Level::Ok, "set")),
    }
    let cfg = match env("GATEWAY_CONFIG") {
        None => {
            out.push(check(
                "config",
                Level::Info,
                "GATEWAY_CONFIG not set: one target per provider key in the environment",
            ));
            None
        }
        Some(p) => {
            let res = ferro_config::Config::load_file(std::path::Path::new(&p)).and_then(|c| {
                ferro_plugins::validate(&c.plugins)
                    .map(|_| c)
                    .map_err(ferro_config::ConfigErrors)
            });
            match res {
                Ok(c) => {
                    out.push(check("config", Level::Ok, format!("{p}: valid")));
                    Some(c)
                }
                Err(e) => {
                    for m in e.0 {
                        out.push(check("config", Level::Fail, format!("{p}: {m}")));
                    }
                    None
                }
            }
        }
    };
    match ferro_router::registry::build(cfg.as_ref(), &env) {
        Ok(r) => {
            let names: Vec<&str> = r.instances.iter().map(|i| i.name.as_str()).collect();
            let mock_warned = r
                .warnings
                .iter()
                .any(|w| w.to_ascii_lowercase().contains("mock"));
            if (names.is_empty() || names == ["mock"]) && !mock_warned {
                out.push(check(
                    "providers",
                    Level::Warn,
                    "no provider credential found: the built-in mock answers (set e.g. OPENAI_API_KEY)",
                ));
            } else if !names.is_empty() && names != ["mock"] {
                out.push(check("providers", Level::Ok, names.join(", ")));
            }
            for w in r.warnings {
                out.push(check("providers", Level::Warn, w));
            }
        }
        Err(e) => {
            for m in e.0 {
                out.push(check("providers", Level::Fail, m));
            }
        }
    }
    out
}

fn data_dir(dir: &std::path::Path, out: &mut Vec<Check>) {
    let shown = dir.display().to_string();
    if dir.is_dir() {
        let probe = dir.join(".ferrogw-doctor");
        match std::fs::write(&probe, b"ok") {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
                out.push(check("data dir", Level::Ok, format!("{shown} (writable)")));
            }
            Err(e) => out.push(check("data dir", Level::Fail, format!("{shown}: {e}"))),
        }
    } else if dir.exists() {
        out.push(check(
            "data dir",
            Level::Fail,
            format!("{shown} is not a directory"),
        ));
    } else {
        out.push(check(
            "data dir",
            Level::Info,
            format!("{shown} will be created at start"),
        ));
    }
}

async fn remote_checks(g: &Global) -> Vec<Check> {
    let mut out = Vec::new();
    let c = match Client::new(g) {
        Ok(c) => c,
        Err(e) => return vec![check("gateway", Level::Fail, e.to_string())],
    };
    match c.probe("/health").await {
        Err(e) => {
            out.push(check("gateway", Level::Fail, e.to_string()));
            return out;
        }
        Ok((code, v)) => {
            let n = v["providers"].as_array().map_or(0, Vec::len);
            let version = v["version"].as_str().unwrap_or("?");
            let level = if code == 200 { Level::Ok } else { Level::Fail };
            out.push(check(
                "gateway",
                level,
                format!(
                    "{} answers {code} (version {version}, {n} providers)",
                    c.base()
                ),
            ));
        }
    }
    match c.probe("/readyz").await {
        Ok((200, _)) => out.push(check("readiness", Level::Ok, "ready")),
        Ok((code, v)) => out.push(check(
            "readiness",
            Level::Fail,
            format!("{code}: {}", v["reason"].as_str().unwrap_or("not ready")),
        )),
        Err(e) => out.push(check("readiness", Level::Fail, e.to_string())),
    }
    if !c.has_key() {
        out.push(check(
            "credential",
            Level::Warn,
            "no credential to check (--api-key, FERROGW_API_KEY or MASTER_KEY)",
        ));
        return out;
    }
    match c.get_json("/v1/models").await {
        Ok(v) => {
            let n = v["data"].as_array().map_or(0, Vec::len);
            out.push(check(
                "credential",
                Level::Ok,
                format!("accepted ({n} routable models)"),
            ));
        }
        Err(CliError::Auth { message, .. }) => out.push(check("credential", Level::Fail, message)),
        Err(e) => out.push(check("credential", Level::Warn, e.to_string())),
    }
    match c.get_json("/admin/health").await {
        Ok(v) => {
            let status = v["status"].as_str().unwrap_or("?").to_owned();
            let bad: Vec<String> = v["components"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["status"].as_str() == Some("unavailable"))
                .map(|x| x["name"].as_str().unwrap_or("?").to_owned())
                .collect();
            if bad.is_empty() {
                out.push(check("admin", Level::Ok, format!("deep health: {status}")));
            } else {
                out.push(check(
                    "admin",
                    Level::Fail,
                    format!("unavailable: {}", bad.join(", ")),
                ));
            }
        }
        Err(CliError::Auth { .. }) => out.push(check(
            "admin",
            Level::Info,
            "credential has no admin access",
        )),
        Err(e) => out.push(check("admin", Level::Warn, e.to_string())),
    }
    out
}

pub fn run(g: &Global, a: &Args) -> Exit {
    let mut checks = local_checks();
    if !a.offline {
        let spin = Spinner::start("checking the gateway");
        checks.extend(super::block_on_value(remote_checks(g)).unwrap_or_default());
        drop(spin);
    }
    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if g.format != Format::Table {
        let v: Vec<Value> = checks
            .iter()
            .map(|c| {
                let level = match c.level {
                    Level::Ok => "ok",
                    Level::Warn => "warn",
                    Level::Fail => "fail",
                    Level::Info => "info",
                };
                json!({"check": c.name, "status": level, "detail": c.detail})
            })
            .collect();
        super::output::print_structured(g.format, &json!({"ok": !failed, "checks": v}));
    } else {
        let s = Style::stdout();
        for c in &checks {
            let mark = match c.level {
                Level::Ok => s.green("✓"),
                Level::Warn => s.yellow("!"),
                Level::Fail => s.red("✗"),
                Level::Info => s.dim("·"),
            };
            println!("{mark} {:<11} {}", c.name, c.detail);
        }
        let n = checks.iter().filter(|c| c.level == Level::Fail).count();
        if failed {
            println!("\n{}", s.red(&format!("{n} check(s) failed")));
        } else {
            println!("\n{}", s.green("all checks passed"));
        }
    }
    if failed {
        Exit::Failure
    } else {
        Exit::Ok
    }
}
