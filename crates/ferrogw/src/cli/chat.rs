//! `ferrogw chat "<prompt>" --model M`: one chat completion, streamed to the
//! terminal as it is generated; a summary line (provider, tokens, cost, time,
//! trace id) goes to stderr. `--format json` prints the whole JSON answer
//! instead (not streamed).

use super::client::{CliError, Client};
use super::output::{Format, Style};
use super::spinner::Spinner;
use super::{fail, Exit, Global};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The prompt (`-` or absent: read standard input).
    pub prompt: Option<String>,
    /// Model id (an alias, a catalog id, or `<provider>/<model>`).
    #[arg(short, long)]
    pub model: String,
    /// A system message.
    #[arg(short, long)]
    pub system: Option<String>,
    /// Ceiling on generated tokens.
    #[arg(long)]
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
}

fn body(a: &Args, prompt: &str, stream: bool) -> Value {
    let mut messages = Vec::new();
    if let Some(s) = &a.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let mut b = json!({"model": a.model, "messages": messages, "stream": stream});
    if stream {
        b["stream_options"] = json!({"include_usage": true});
    }
    if let Some(m) = a.max_tokens {
        b["max_tokens"] = json!(m);
    }
    if let Some(t) = a.temperature {
        b["temperature"] = json!(t);
    }
    b
}

/// What the summary line reports.
#[derive(Debug, Default)]
struct Summary {
    provider: Option<String>,
    trace_id: Option<String>,
    model: Option<String>,
    usage: Option<Value>,
}

fn summary_line(s: &Summary, took: f64) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &s.provider {
        parts.push(format!("provider {p}"));
    }
    if let Some(m) = &s.model {
        parts.push(format!("model {m}"));
    }
    if let Some(u) = &s.usage {
        parts.push(format!(
            "{}→{} tokens",
            u["prompt_tokens"].as_u64().unwrap_or(0),
            u["completion_tokens"].as_u64().unwrap_or(0)
        ));
        if let Some(c) = u["cost_usd"].as_f64() {
            parts.push(format!("${c:.6}"));
        }
    }
    parts.push(format!("{took:.1}s"));
    if let Some(t) = &s.trace_id {
        parts.push(format!("trace {t}"));
    }
    parts.join(" · ")
}

fn read_prompt(a: &Args) -> Result<String, CliError> {
    match a.prompt.as_deref() {
        Some(p) if p != "-" => Ok(p.to_owned()),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::Usage(format!("reading the prompt from stdin: {e}")))?;
            if s.trim().is_empty() {
                return Err(CliError::Usage("no prompt given".to_owned()));
            }
            Ok(s)
        }
    }
}

/// Handles one SSE `data:` payload; returns text to print, or an error frame.
fn on_event(
    data: &str,
    sum: &mut Summary,
    reasoning: &mut bool,
    st: Style,
) -> Result<String, CliError> {
    let v: Value = serde_json::from_str(data)
        .map_err(|_| CliError::Other("the stream carried invalid JSON".to_owned()))?;
    if let Some(e) = v.get("error") {
        return Err(CliError::Other(format!(
            "stream ended with an error: {}",
            super::client::error_message(&json!({"error": e}).to_string())
        )));
    }
    if let Some(m) = v["model"].as_str() {
        sum.model = Some(m.to_owned());
    }
    if v.get("usage").is_some_and(|u| !u.is_null()) {
        sum.usage = Some(v["usage"].clone());
    }
    let delta = &v["choices"][0]["delta"];
    let mut out = String::new();
    if let Some(r) = delta["reasoning_content"].as_str() {
        *reasoning = true;
        out.push_str(&st.dim(r));
    }
    if let Some(t) = delta["content"].as_str() {
        if *reasoning && !t.is_empty() {
            *reasoning = false;
            out.push_str("\n\n");
        }
        out.push_str(t);
    }
    Ok(out)
}

async fn stream(c: &Client, a: &Args, prompt: &str) -> Result<Summary, CliError> {
    let mut spin = Spinner::start("waiting for the first token");
    let rb = c
        .request(Method::POST, "/v1/chat/completions", true)
        .header("accept", "text/event-stream")
        .json(&body(a, prompt, true));
    let resp = c.send(rb).await?;
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut sum = Summary {
        provider: header("x-gateway-provider"),
        trace_id: header("x-request-id"),
        ..Summary::default()
    };
    let st = Style::stdout();
    let mut reasoning = false;
    let mut buf: Vec<u8> = Vec::new();
    let mut body = resp.bytes_stream();
    let mut out = std::io::stdout();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| CliError::Other(format!("the stream broke: {e}")))?;
        spin.stop();
        buf.extend_from_slice(&chunk);
        while let Some(i) = find_event_end(&buf) {
            let event: Vec<u8> = buf.drain(..i).collect();
            let text = String::from_utf8_lossy(&event);
            for l in text.lines() {
                let Some(data) = l.strip_prefix("data:").map(str::trim) else {
                    continue;
                };
                if data == "[DONE]" {
                    continue;
                }
                let piece = on_event(data, &mut sum, &mut reasoning, st)?;
                let _ = out.write_all(piece.as_bytes());
                let _ = out.flush();
            }
        }
    }
    let _ = writeln!(out);
    Ok(sum)
}

/// End (exclusive, separator included) of the first complete SSE event.
fn find_event_end(b: &[u8]) -> Option<usize> {
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub fn run(g: &Global, a: &Args) -> Exit {
    let prompt = match read_prompt(a) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    super::block_on(async {
        let c = match Client::with_timeout(g, None) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let t0 = Instant::now();
        if a.no_stream || g.format != Format::Table {
            let spin = Spinner::start("waiting for the answer");
            let res = c
                .send_json(
                    Method::POST,
                    "/v1/chat/completions",
                    Some(&body(a, &prompt, false)),
                )
                .await;
            drop(spin);
            let v = match res {
                Ok(v) => v,
                Err(e) => return fail(&e),
            };
            if super::output::print_structured(g.format, &v) {
                return Exit::Ok;
            }
            println!(
                "{}",
                v["choices"][0]["message"]["content"].as_str().unwrap_or("")
            );
            let sum = Summary {
                provider: v["provider"].as_str().map(str::to_owned),
                trace_id: v["trace_id"].as_str().map(str::to_owned),
                model: v["model"].as_str().map(str::to_owned),
                usage: v.get("usage").cloned(),
            };
            eprintln!(
                "{}",
                Style::stderr().dim(&summary_line(&sum, t0.elapsed().as_secs_f64()))
            );
            return Exit::Ok;
        }
        match stream(&c, a, &prompt).await {
            Ok(sum) => {
                eprintln!(
                    "{}",
                    Style::stderr().dim(&summary_line(&sum, t0.elapsed().as_secs_f64()))
                );
                Exit::Ok
            }
            Err(e) => fail(&e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_summary() {
        let mut sum = Summary::default();
        let mut r = false;
        let st = Style { color: false };
        let t = on_event(
            r#"{"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            &mut sum,
            &mut r,
            st,
        );
        assert_eq!(t, Ok("Hi".to_owned()));
        let t = on_event(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"cost_usd":0.5}}"#,
            &mut sum,
            &mut r,
            st,
        );
        assert_eq!(t, Ok(String::new()));
        assert!(on_event(
            r#"{"error":{"message":"x","code":"y"}}"#,
            &mut sum,
            &mut r,
            st
        )
        .is_err());
        sum.provider = Some("mock".into());
        assert_eq!(
            summary_line(&sum, 1.25),
            "provider mock · model m · 3→4 tokens · $0.500000 · 1.2s"
        );
        assert_eq!(find_event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(find_event_end(b"data: a\n"), None);
    }
}
