//! `ferrogw status`: `GET /health` (no credential) and, when the credential
//! allows, `GET /admin/providers` — one table of providers, circuits and
//! models. Exit 0 healthy, 1 no providers, 3 unreachable.

use super::client::{CliError, Client};
use super::output::{cell, Style, Table};
use super::spinner::Spinner;
use super::{fail, Exit, Global};
use serde_json::{json, Value};

pub fn run(g: &Global) -> Exit {
    super::block_on(async {
        let c = match Client::new(g) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let mut spin = Spinner::start("asking the gateway");
        let health = c.probe("/health").await;
        let providers = if c.has_key() {
            Some(c.get_json("/admin/providers").await)
        } else {
            None
        };
        spin.stop();
        let (code, health) = match health {
            Ok(h) => h,
            Err(e) => return fail(&e),
        };
        let (admin, note) = match providers {
            Some(Ok(v)) => (v, None),
            Some(Err(CliError::Auth { .. })) => (
                Value::Null,
                Some("provider models not shown: the credential is not accepted by /admin"),
            ),
            Some(Err(e @ CliError::Unreachable(_))) => return fail(&e),
            Some(Err(_)) => (
                Value::Null,
                Some("provider models not shown: /admin/providers unavailable"),
            ),
            None => (
                Value::Null,
                Some("provider models not shown: no credential"),
            ),
        };
        let v =
            json!({"gateway": c.base(), "http_status": code, "health": health, "providers": admin});
        if !super::output::print_structured(g.format, &v) {
            print_table(c.base(), code, &health, &admin);
            if let Some(n) = note {
                eprintln!("{}", Style::stderr().dim(n));
            }
        }
        if code == 200 {
            Exit::Ok
        } else {
            Exit::Failure
        }
    })
}

fn print_table(url: &str, code: u16, health: &Value, admin: &Value) {
    let s = Style::stdout();
    let status = health
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let shown = if code == 200 {
        s.green(status)
    } else {
        s.red(status)
    };
    let version = health.get("version").and_then(Value::as_str).unwrap_or("?");
    let commit = health.get("commit").and_then(Value::as_str).unwrap_or("?");
    println!(
        "{} {url}  {shown}  (version {version}, commit {commit})",
        s.bold("gateway")
    );
    let empty = Vec::new();
    let list = health
        .get("providers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if list.is_empty() {
        println!("no providers registered");
        return;
    }
    println!();
    let mut t = Table::new(&["PROVIDER", "STATUS", "CIRCUIT", "MODELS"]);
    for p in list {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let circuit = p.get("circuit").and_then(Value::as_str).unwrap_or("closed");
        let circuit = match circuit {
            "closed" => s.green(circuit),
            "open" => s.red(circuit),
            other => s.yellow(other),
        };
        // the admin listing knows the model ids; /health only their count
        let models = admin
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("name").and_then(Value::as_str) == Some(name))
            })
            .and_then(|x| x.get("models"))
            .and_then(Value::as_array)
            .map(|m| {
                let ids: Vec<String> = m.iter().take(4).map(|x| cell(&x["id"])).collect();
                let more = m.len().saturating_sub(ids.len());
                let mut s = format!("{} ({})", m.len(), ids.join(", "));
                if more > 0 {
                    s = format!("{} ({}, +{more})", m.len(), ids.join(", "));
                }
                s
            })
            .unwrap_or_else(|| cell(p.get("models").unwrap_or(&Value::Null)));
        t.row(vec![name.to_owned(), cell(&p["status"]), circuit, models]);
    }
    print!("{}", t.render(s));
}
