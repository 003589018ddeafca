//! The OpenAI-compatible adapter every OpenAI-wire vendor shares. Pure functions:
//! they edit the few top-level fields the gateway owns and copy the rest verbatim.

use crate::spec::ProviderSpec;
use ferro_types::chat::ChatRequest;
use ferro_types::json::{write_json_str, JsonObject};

fn model_literal(model: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(model.len() + 2);
    write_json_str(&mut v, model);
    v
}

/// The upstream chat body, or `None` when the client's bytes can be sent as they are.
///
/// * `model` replaced when resolution changed it (alias, provider prefix);
/// * streams always ask for usage (`stream_options.include_usage: true`), other
///   `stream_options` keys kept;
/// * `max_tokens` promoted to `max_completion_tokens` where the vendor wants it.
pub fn chat_body(
    req: &ChatRequest<'_>,
    upstream_model: &str,
    spec: &ProviderSpec,
) -> Option<Vec<u8>> {
    let obj = &req.obj;
    let mut set: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut remove: Vec<&str> = Vec::new();
    if upstream_model != req.model {
        set.push(("model", model_literal(upstream_model)));
    }
    if req.stream && !req.client_wants_usage {
        let so = match obj.get_non_null("stream_options") {
            Some(raw) => match JsonObject::parse(raw.get().as_bytes()) {
                Ok(o) => o.write_with(&[("include_usage", b"true")], &[]),
                Err(_) => b"{\"include_usage\":true}".to_vec(),
            },
            None => b"{\"include_usage\":true}".to_vec(),
        };
        set.push(("stream_options", so));
    }
    if spec.promote_max_tokens && !obj.contains("max_completion_tokens") {
        if let Some(mt) = obj.get_non_null("max_tokens") {
            set.push(("max_completion_tokens", mt.get().as_bytes().to_vec()));
            remove.push("max_tokens");
        }
    }
    if set.is_empty() && remove.is_empty() {
        return None;
    }
    let set_ref: Vec<(&str, &[u8])> = set.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    Some(obj.write_with(&set_ref, &remove))
}

/// The upstream body of a non-chat surface: only `model` may change.
pub fn model_body(
    obj: &JsonObject<'_>,
    client_model: Option<&str>,
    upstream_model: &str,
) -> Option<Vec<u8>> {
    if client_model == Some(upstream_model) {
        return None;
    }
    let m = model_literal(upstream_model);
    Some(obj.write_with(&[("model", &m)], &[]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spec::find;

    #[test]
    fn unchanged_request_is_forwarded_as_is() {
        let r =
            ChatRequest::parse(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"#)
                .unwrap();
        assert!(chat_body(&r, "gpt-4o", find("mistral").unwrap()).is_none());
    }

    #[test]
    fn stream_usage_model_and_promotion() {
        let r = ChatRequest::parse(
            br#"{"model":"fast","messages":[{"role":"user","content":"x"}],"stream":true,"max_tokens":7,"stream_options":{"x":1},"vendor_thing":[1]}"#,
        )
        .unwrap();
        let out = chat_body(&r, "gpt-4o-mini", find("openai").unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "gpt-4o-mini");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["stream_options"]["x"], 1);
        assert_eq!(v["max_completion_tokens"], 7);
        assert!(v.get("max_tokens").is_none());
        assert_eq!(v["vendor_thing"][0], 1);
        // groq-like vendors without promotion keep max_tokens
        let out = chat_body(&r, "fast", find("mistral").unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["max_tokens"], 7);
    }
}
