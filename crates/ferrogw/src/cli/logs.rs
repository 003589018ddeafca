//! `ferrogw logs tail`: the request log, live. Prints the newest rows, then
//! polls `GET /admin/logs?since=…` and prints rows it has not printed yet (a
//! row is identified by trace id and timestamp, so a `since` boundary seen
//! twice prints nothing twice). Filters go to the gateway; `--errors` is
//! applied here.

use super::client::{CliError, Client};
use super::output::{Format, Style};
use super::{fail, Exit, Global};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Follow the request log (Ctrl-C to stop).
    Tail(TailArgs),
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Rows to show before following.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    pub lines: u32,
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this API key id (`none`: unauthenticated requests).
    #[arg(long)]
    pub api_key_id: Option<String>,
    /// Only this stage (`all` for every stage).
    #[arg(long)]
    pub stage: Option<String>,
    /// Only failed requests (status ≥ 400 or an error message).
    #[arg(long)]
    pub errors: bool,
    /// Poll interval, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub interval_ms: u64,
    /// Print the newest rows and exit instead of following.
    #[arg(long)]
    pub no_follow: bool,
}

/// Remembers the last rows printed (bounded).
#[derive(Debug, Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

const SEEN_MAX: usize = 10_000;

impl Seen {
    /// `true` the first time `row` is seen.
    fn first(&mut self, row: &Value) -> bool {
        let key = format!(
            "{}|{}|{}",
            row["trace_id"].as_str().unwrap_or(""),
            row["created_at"].as_str().unwrap_or(""),
            row["stage"].as_str().unwrap_or("")
        );
        if !self.set.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > SEEN_MAX {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

fn query(a: &TailArgs, limit: u32, since: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("limit", &limit.to_string());
    for (k, v) in [
        ("model", &a.model),
        ("provider", &a.provider),
        ("api_key_id", &a.api_key_id),
        ("stage", &a.stage),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    if let Some(s) = since {
        q.append_pair("since", s);
    }
    format!("/admin/logs?{}", q.finish())
}

fn failed(row: &Value) -> bool {
    row["status"].as_u64().is_some_and(|s| s >= 400)
        || row["error_message"].as_str().is_some_and(|m| !m.is_empty())
}

/// One row as a terminal line.
pub fn line(row: &Value, s: Style) -> String {
    let time = row["created_at"].as_str().unwrap_or("");
    let time = time.get(..19).unwrap_or(time).replace('T', " ");
    let status = row["status"].as_u64().unwrap_or(0);
    let status = s.status(u16::try_from(status).unwrap_or(0));
    let route = row["route"].as_str().unwrap_or("-");
    let provider = row["provider"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or("-");
    let model = row["model"]
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or("-");
    let tokens = format!(
        "{}→{}",
        row["prompt_tokens"].as_i64().unwrap_or(0),
        row["completion_tokens"].as_i64().unwrap_or(0)
    );
    let cost = row["cost_usd"]
        .as_f64()
        .map_or_else(|| "-".to_owned(), |c| format!("${c:.6}"));
    let ms = row["duration_ms"]
        .as_f64()
        .map_or_else(|| "-".to_owned(), |d| format!("{d:.0}ms"));
    let trace = row["trace_id"].as_str().unwrap_or("");
    let mut out = format!(
        "{time}  {status}  {route:<11} {provider}/{model}  {tokens} tok  {cost}  {ms}  {}",
        s.dim(trace)
    );
    if let Some(e) = row["error_message"].as_str().filter(|e| !e.is_empty()) {
        out.push_str("  ");
        out.push_str(&s.red(e));
    }
    out
}

fn emit(rows: &[Value], a: &TailArgs, format: Format, seen: &mut Seen) {
    let s = Style::stdout();
    for row in rows {
        if !seen.first(row) || (a.errors && !failed(row)) {
            continue;
        }
        match format {
            Format::Table => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", line(row, s));
                let _ = out.flush();
            }
            f => super::output::print_record(f, row),
        }
    }
}

/// Rows of an answer, oldest first (the gateway answers newest first).
fn rows(v: &Value) -> Vec<Value> {
    let mut r = v["data"].as_array().cloned().unwrap_or_default();
    r.reverse();
    r
}

pub fn run(g: &Global, cmd: &Command) -> Exit {
    let Command::Tail(a) = cmd;
    super::block_on(async {
        let c = match Client::new(g) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let mut seen = Seen::default();
        let first = match c.get_json(&query(a, a.lines.clamp(1, 200), None)).await {
            Ok(v) => v,
            Err(e) => return fail(&e),
        };
        let mut batch = rows(&first);
        if a.lines == 0 {
            batch.iter().for_each(|r| {
                seen.first(r);
            });
            batch.clear();
        }
        emit(&batch, a, g.format, &mut seen);
        if a.no_follow {
            return Exit::Ok;
        }
        let mut since: Option<String> = batch
            .last()
            .and_then(|r| r["created_at"].as_str())
            .map(str::to_owned)
            .or_else(|| {
                rows(&first)
                    .last()
                    .and_then(|r| r["created_at"].as_str())
                    .map(str::to_owned)
            });
        let mut misses = 0u32;
        loop {
            tokio::time::sleep(Duration::from_millis(a.interval_ms)).await;
            match c.get_json(&query(a, 200, since.as_deref())).await {
                Ok(v) => {
                    misses = 0;
                    let batch = rows(&v);
                    if let Some(t) = batch.last().and_then(|r| r["created_at"].as_str()) {
                        since = Some(t.to_owned());
                    }
                    emit(&batch, a, g.format, &mut seen);
                }
                Err(e @ (CliError::Auth { .. } | CliError::Usage(_))) => return fail(&e),
                Err(e) => {
                    // a restart or a blip: keep following, say so once
                    misses += 1;
                    if misses == 1 {
                        eprintln!("{}", Style::stderr().yellow(&format!("waiting: {e}")));
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dedup_and_query() {
        let mut s = Seen::default();
        let r = json!({"trace_id": "a", "created_at": "t1", "stage": "after_request"});
        assert!(s.first(&r));
        assert!(!s.first(&r));
        assert!(s.first(&json!({"trace_id": "a", "created_at": "t2"})));
        let a = TailArgs {
            lines: 5,
            model: Some("gpt 4".into()),
            provider: None,
            api_key_id: None,
            stage: None,
            errors: false,
            interval_ms: 1000,
            no_follow: true,
        };
        assert_eq!(
            query(&a, 5, Some("2026-01-01T00:00:00Z")),
            "/admin/logs?limit=5&model=gpt+4&since=2026-01-01T00%3A00%3A00Z"
        );
        let row = json!({"created_at": "2026-01-01T00:00:00.123456Z", "status": 502, "route": "chat",
            "provider": "openai", "model": "gpt-4o", "prompt_tokens": 1, "completion_tokens": 2,
            "cost_usd": null, "duration_ms": 12.4, "trace_id": "abc", "error_message": "boom"});
        assert_eq!(
            line(&row, Style { color: false }),
            "2026-01-01 00:00:00  502  chat        openai/gpt-4o  1→2 tok  -  12ms  abc  boom"
        );
        assert!(failed(&row));
    }
}
