//! Provider-independent invariants of translated OpenAI output: completions,
//! tool calls, streams (and their agreement with whole answers), usage.

use super::FINISH_REASONS;
use serde_json::{json, Value};

pub(crate) fn u64_at(v: &Value, key: &str) -> Result<u64, String> {
    v[key]
        .as_u64()
        .ok_or_else(|| format!("usage.{key} is not a count: {v}"))
}

/// OpenAI usage: counts present and adding up.
pub(crate) fn check_usage(u: &Value) -> Result<(), String> {
    ensure!(u.is_object(), "usage missing: {u}");
    let p = u64_at(u, "prompt_tokens")?;
    let c = u64_at(u, "completion_tokens")?;
    let t = u64_at(u, "total_tokens")?;
    ensure!(
        t == p + c,
        "total_tokens {t} != prompt {p} + completion {c}"
    );
    if let Some(cr) = u.get("cache_read_tokens").and_then(Value::as_u64) {
        ensure!(p >= cr, "prompt_tokens {p} < cache_read_tokens {cr}");
    }
    Ok(())
}

/// A `chat.completion` with one assistant choice; returns the message.
pub(crate) fn check_completion(v: &Value) -> Result<(&Value, &str), String> {
    ensure!(v["object"] == "chat.completion", "object: {}", v["object"]);
    ensure!(
        v["id"].as_str().is_some_and(|s| !s.is_empty()),
        "no id: {v}"
    );
    let choices = v["choices"].as_array().ok_or("no choices")?;
    ensure!(choices.len() == 1, "{} choices", choices.len());
    let c = &choices[0];
    let m = &c["message"];
    ensure!(m["role"] == "assistant", "message role: {}", m["role"]);
    let f = c["finish_reason"].as_str().unwrap_or("");
    ensure!(
        FINISH_REASONS.contains(&f),
        "finish_reason: {}",
        c["finish_reason"]
    );
    check_usage(&v["usage"])?;
    Ok((m, f))
}

/// Tool calls as `(id, name, arguments)`.
pub(crate) type Calls = Vec<(String, String, String)>;

pub(crate) fn check_tool_calls(m: &Value) -> Result<Calls, String> {
    let calls = m["tool_calls"].as_array().ok_or("no tool_calls")?;
    ensure!(!calls.is_empty(), "tool_calls is empty");
    let mut out = Calls::new();
    for tc in calls {
        let id = tc["id"].as_str().unwrap_or("");
        ensure!(!id.is_empty(), "tool call without id: {tc}");
        ensure!(tc["type"] == "function", "tool call type: {tc}");
        let name = tc["function"]["name"].as_str().unwrap_or("");
        ensure!(!name.is_empty(), "tool call without name: {tc}");
        let args = tc["function"]["arguments"]
            .as_str()
            .ok_or(format!("arguments not a string: {tc}"))?;
        ensure!(
            serde_json::from_str::<Value>(args).is_ok(),
            "{name}: arguments {args:?} are not JSON"
        );
        ensure!(
            !out.iter().any(|(i, _, _)| i == id),
            "duplicate tool call id {id}"
        );
        out.push((id.to_owned(), name.to_owned(), args.to_owned()));
    }
    Ok(out)
}

/// What a chunk stream adds up to.
#[derive(Default)]
pub(crate) struct Streamed {
    pub(crate) content: String,
    pub(crate) reasoning: String,
    pub(crate) calls: Calls,
    pub(crate) finish: String,
    pub(crate) usage: Value,
}

pub(crate) fn check_stream(chunks: &[Value]) -> Result<Streamed, String> {
    ensure!(!chunks.is_empty(), "no chunks");
    let first = &chunks[0];
    ensure!(
        first.pointer("/choices/0/delta/role") == Some(&json!("assistant")),
        "first chunk has no role assistant: {first}"
    );
    let id = &first["id"];
    ensure!(
        id.as_str().is_some_and(|s| !s.is_empty()),
        "first chunk has no id"
    );
    let mut s = Streamed::default();
    let mut finishes = Vec::new();
    let mut ids_seen: Vec<Option<String>> = Vec::new();
    let (last, body) = chunks.split_last().unwrap();
    for (i, c) in body.iter().enumerate() {
        ensure!(c["object"] == "chat.completion.chunk", "chunk {i}: object");
        ensure!(&c["id"] == id, "chunk {i}: id {} != {id}", c["id"]);
        ensure!(
            c.get("usage").is_none_or(Value::is_null),
            "chunk {i} carries usage before the end: {c}"
        );
        let choices = c["choices"]
            .as_array()
            .ok_or(format!("chunk {i}: choices"))?;
        ensure!(
            choices.len() == 1 && choices[0]["index"] == 0,
            "chunk {i}: expected one choice of index 0: {c}"
        );
        let ch = &choices[0];
        let d = &ch["delta"];
        s.content += d["content"].as_str().unwrap_or("");
        s.reasoning += d["reasoning_content"].as_str().unwrap_or("");
        for tc in d["tool_calls"].as_array().into_iter().flatten() {
            let idx = tc["index"]
                .as_u64()
                .ok_or(format!("chunk {i}: tool call without index: {tc}"))?
                as usize;
            ensure!(
                idx <= s.calls.len(),
                "chunk {i}: tool call index {idx} skips {}",
                s.calls.len()
            );
            if idx == s.calls.len() {
                s.calls.push(Default::default());
                ids_seen.push(None);
            }
            if let Some(tid) = tc["id"].as_str() {
                ensure!(
                    ids_seen[idx].is_none(),
                    "chunk {i}: tool call {idx} got a second id"
                );
                ensure!(tc["type"] == "function", "chunk {i}: type: {tc}");
                let name = tc["function"]["name"].as_str().unwrap_or("");
                ensure!(!name.is_empty(), "chunk {i}: tool call {idx} without name");
                ids_seen[idx] = Some(tid.to_owned());
                s.calls[idx].0 = tid.to_owned();
                s.calls[idx].1 = name.to_owned();
            } else {
                ensure!(
                    ids_seen[idx].is_some(),
                    "chunk {i}: tool call {idx} continues before it started"
                );
            }
            s.calls[idx].2 += tc["function"]["arguments"].as_str().unwrap_or("");
        }
        if let Some(f) = ch["finish_reason"].as_str() {
            finishes.push(f.to_owned());
        }
    }
    ensure!(
        last["object"] == "chat.completion.chunk" && &last["id"] == id,
        "usage chunk: object/id"
    );
    ensure!(
        last["choices"] == json!([]),
        "last chunk is not usage-only: {last}"
    );
    check_usage(&last["usage"])?;
    s.usage = last["usage"].clone();
    ensure!(
        finishes.len() == 1,
        "expected exactly one finish_reason, got {finishes:?}"
    );
    s.finish = finishes.pop().unwrap();
    ensure!(
        FINISH_REASONS.contains(&s.finish.as_str()),
        "finish_reason {}",
        s.finish
    );
    for (i, (tid, name, args)) in s.calls.iter().enumerate() {
        ensure!(
            !tid.is_empty() && !name.is_empty(),
            "tool call {i} never got id/name"
        );
        ensure!(
            serde_json::from_str::<Value>(args).is_ok(),
            "streamed tool call {i} ({name}): arguments {args:?} do not reassemble to JSON"
        );
    }
    Ok(s)
}

/// Text equal, or both JSON and equal as JSON (whitespace may differ).
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    let j = |s: &str| serde_json::from_str::<Value>(s).ok();
    a == b || (j(a).is_some() && j(a) == j(b))
}

/// The streamed and the whole answer of one exchange agree.
pub(crate) fn check_pair(s: &Streamed, whole: &Value) -> Result<(), String> {
    let (m, f) = check_completion(whole)?;
    let content = m["content"].as_str().unwrap_or("");
    ensure!(
        same_text(&s.content, content),
        "streamed content {:?} != whole content {content:?}",
        s.content
    );
    ensure!(s.finish == f, "finish_reason: streamed {} vs {f}", s.finish);
    ensure!(
        s.usage == whole["usage"],
        "usage: streamed {} vs whole {}",
        s.usage,
        whole["usage"]
    );
    let calls = m["tool_calls"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    ensure!(
        calls.len() == s.calls.len(),
        "{} streamed tool calls vs {}",
        s.calls.len(),
        calls.len()
    );
    for ((id, name, args), w) in s.calls.iter().zip(calls) {
        ensure!(w["id"] == id.as_str(), "tool call id {id} vs {}", w["id"]);
        ensure!(w["function"]["name"] == name.as_str(), "tool name {name}");
        let wa = w["function"]["arguments"].as_str().unwrap_or("");
        ensure!(same_text(args, wa), "{name}: arguments {args:?} vs {wa:?}");
    }
    Ok(())
}

/// Does `needle` occur in a string anywhere inside `v`?
pub(crate) fn carries_string(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| carries_string(x, needle)),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || carries_string(x, needle)),
        _ => false,
    }
}

/// Does `key` occur as an object key anywhere inside `v`?
pub(crate) fn carries_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| carries_key(x, key)),
        Value::Object(o) => o.iter().any(|(k, x)| k == key || carries_key(x, key)),
        _ => false,
    }
}

pub(crate) fn field<'a>(case: &'a Value, f: &str) -> Option<&'a str> {
    case.get(f).and_then(Value::as_str)
}
