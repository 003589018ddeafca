//! `ferrogw admin …` (CONTRACT §10.1): the admin API of a running gateway from
//! the command line — keys, config, logs, providers, health.
//!
//! Each command is one request through the shared CLI client (`cli::client`:
//! `--gateway-url` / `FERROGW_URL`, credential from `--api-key`, else
//! `FERROGW_API_KEY`, else `MASTER_KEY`, never printed; redirects refused); the
//! answer is printed as a table (default), JSON or YAML (`--format`). Exit codes
//! are the CLI's (`cli` module docs): 0 ok, 1 the gateway refused, 2 bad flags or
//! input file, 3 unreachable, 4 authentication or scope refused.

use crate::cli::client::{CliError, Client};
use crate::cli::output::{cell, print_structured, Style, Table};
use crate::cli::{block_on, fail, Exit, Global};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// API keys: list, get, create, revoke, rotate.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Gateway config: get, history, set, rollback.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Request logs: list, stats.
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Registered providers.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Deep health of the gateway and its stores.
    Health,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    List,
    Get {
        id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read_only", value_parser = ["admin", "read_only"])]
        scope: String,
        /// Lifetime, e.g. `720h`, `30m`, `90s`.
        #[arg(long)]
        expires_in: Option<String>,
    },
    Revoke {
        id: String,
    },
    Rotate {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    Get,
    History,
    /// Replace the config with a JSON (or YAML) file (PUT).
    Set {
        #[arg(long)]
        file: PathBuf,
    },
    Rollback {
        version: i64,
    },
}

#[derive(Debug, Subcommand)]
enum LogsCommand {
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    Stats,
}

#[derive(Debug, Subcommand)]
enum ProvidersCommand {
    List,
}

/// Runs `ferrogw admin …`.
pub fn run(g: &Global, args: &AdminArgs) -> Exit {
    let client = match Client::new(g) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    block_on(async {
        match dispatch(&client, &args.command).await {
            Ok((v, view)) => {
                if !print_structured(g.format, &v) {
                    print!("{}", table(&v, view));
                }
                Exit::Ok
            }
            Err(e) => fail(&e),
        }
    })
}

/// How a result is shown as a table.
#[derive(Clone, Copy)]
enum View {
    Keys,
    Logs,
    Providers,
    History,
    Object,
}

async fn dispatch(c: &Client, cmd: &AdminCommand) -> Result<(Value, View), CliError> {
    let get = |p: String| async move { c.get_json(&p).await };
    Ok(match cmd {
        AdminCommand::Keys(k) => match k {
            KeysCommand::List => (get("/admin/keys".into()).await?, View::Keys),
            KeysCommand::Get { id } => {
                (get(format!("/admin/keys/{}", seg(id))).await?, View::Object)
            }
            KeysCommand::Create {
                name,
                scope,
                expires_in,
            } => {
                let mut body = json!({"name": name, "scopes": [scope]});
                if let Some(d) = expires_in {
                    body["expires_at"] = json!(expiry(d)?);
                }
                (
                    c.send_json(Method::POST, "/admin/keys", Some(&body))
                        .await?,
                    View::Object,
                )
            }
            KeysCommand::Revoke { id } => {
                let p = format!("/admin/keys/{}/revoke", seg(id));
                (c.send_json(Method::POST, &p, None).await?, View::Object)
            }
            KeysCommand::Rotate { id } => {
                let p = format!("/admin/keys/{}/rotate", seg(id));
                (c.send_json(Method::POST, &p, None).await?, View::Object)
            }
        },
        AdminCommand::Config(k) => match k {
            ConfigCommand::Get => (get("/admin/config".into()).await?, View::Object),
            ConfigCommand::History => (get("/admin/config/history".into()).await?, View::History),
            ConfigCommand::Set { file } => {
                let body = read_config(file)?;
                (
                    c.send_json(Method::PUT, "/admin/config", Some(&body))
                        .await?,
                    View::Object,
                )
            }
            ConfigCommand::Rollback { version } => {
                let p = format!("/admin/config/rollback/{version}");
                (c.send_json(Method::POST, &p, None).await?, View::Object)
            }
        },
        AdminCommand::Logs(k) => match k {
            LogsCommand::List { limit } => {
                (get(format!("/admin/logs?limit={limit}")).await?, View::Logs)
            }
            LogsCommand::Stats => (get("/admin/logs/stats".into()).await?, View::Object),
        },
        AdminCommand::Providers(ProvidersCommand::List) => {
            (get("/admin/providers".into()).await?, View::Providers)
        }
        AdminCommand::Health => (get("/admin/health".into()).await?, View::Object),
    })
}

/// A path segment, percent-encoded.
fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn expiry(d: &str) -> Result<String, CliError> {
    let dur = ferro_config::parse_duration(d)
        .map_err(|e| CliError::Usage(format!("--expires-in: {e}")))?;
    let at = SystemTime::now() + dur;
    let micros = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    Ok(ferro_store::time::format(
        i64::try_from(micros).unwrap_or(i64::MAX),
    ))
}

fn read_config(file: &std::path::Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if yaml {
        serde_yaml_ng::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))
    } else {
        serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))
    }
}

fn grid(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new(headers);
    for r in rows {
        t.row(r);
    }
    t.render(Style::stdout())
}

fn table(v: &Value, view: View) -> String {
    let rows = |arr: &Value, cols: &[&str]| -> Vec<Vec<String>> {
        arr.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    match view {
        View::Keys => grid(
            &[
                "ID",
                "NAME",
                "KEY",
                "SCOPES",
                "ACTIVE",
                "USAGE",
                "LAST USED",
                "EXPIRES",
            ],
            rows(
                v,
                &[
                    "id",
                    "name",
                    "key",
                    "scopes",
                    "active",
                    "usage_count",
                    "last_used_at",
                    "expires_at",
                ],
            ),
        ),
        View::Logs => grid(
            &[
                "CREATED", "TRACE", "STATUS", "ROUTE", "PROVIDER", "MODEL", "TOKENS", "COST", "MS",
            ],
            rows(
                &v["data"],
                &[
                    "created_at",
                    "trace_id",
                    "status",
                    "route",
                    "provider",
                    "model",
                    "total_tokens",
                    "cost_usd",
                    "duration_ms",
                ],
            ),
        ),
        View::Providers => {
            let r = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            vec![
                                cell(&p["name"]),
                                p["models"].as_array().map_or(0, Vec::len).to_string(),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            grid(&["NAME", "MODELS"], r)
        }
        View::History => grid(
            &["VERSION", "UPDATED", "ROLLED BACK FROM", "ACTOR"],
            rows(
                &v["data"],
                &["version", "updated_at", "rolled_back_from", "actor"],
            ),
        ),
        View::Object => match v {
            Value::Object(m) => {
                let r = m
                    .iter()
                    .map(|(k, x)| {
                        let nested = x.is_object()
                            || x.as_array().is_some_and(|a| a.iter().any(Value::is_object));
                        let s = if nested {
                            serde_json::to_string(x).unwrap_or_default()
                        } else {
                            cell(x)
                        };
                        vec![k.clone(), s]
                    })
                    .collect();
                grid(&["FIELD", "VALUE"], r)
            }
            Value::Null => String::new(),
            other => format!("{}\n", cell(other)),
        },
    }
}
