//! `schema-guard`: validates each choice of the answer against a JSON Schema
//! subset (`type`, `required`, `properties`; other keywords are ignored, so a
//! schema pasted from elsewhere still works). After-request only.
//!
//! On streams with `action: block` this is the one guardrail that **holds the
//! stream back**: a document can only be validated whole, so the events are
//! buffered until the end and then released or replaced by an error frame.
//! With `warn` / `log` the stream flows and is validated at its end.

use super::{BuildCtx, Builtin};
use crate::config::{Conf, BLOCK_WARN_LOG};
use crate::context::{ChoiceDoc, Ctx, ResponseView};
use crate::error::PluginError;
use crate::text::{act, Action, Dir};
use crate::{ChunkScreen, Plugin, PluginResult, PluginType, Screen, Stage};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "schema-guard",
    kind: PluginType::Guardrail,
    summary: "Validates the model's answer against a JSON Schema subset (type, required, properties); a blocking schema holds a streamed answer back until it can be validated whole.",
    keys: &["schema", "action"],
    build,
};

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];
/// Largest streamed answer held back for validation; beyond it the stream is refused.
const MAX_HELD_TEXT: usize = 4 * 1024 * 1024;

struct SchemaGuard {
    schema: Arc<Value>,
    action: Action,
}

fn check_schema(s: &Map<String, Value>, path: &str, errs: &mut Vec<String>) {
    if let Some(t) = s.get("type") {
        match t.as_str() {
            Some(name) if TYPES.contains(&name) => {}
            _ => errs.push(format!("{path}.type: must be one of {}", TYPES.join(", "))),
        }
    }
    if let Some(r) = s.get("required") {
        let ok = r.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            errs.push(format!("{path}.required: must be a list of field names"));
        }
    }
    if let Some(p) = s.get("properties") {
        let Some(props) = p.as_object() else {
            errs.push(format!(
                "{path}.properties: must map field names to schemas"
            ));
            return;
        };
        for (k, sub) in props {
            match sub.as_object() {
                Some(o) => check_schema(o, &format!("{path}.properties.{k}"), errs),
                None => errs.push(format!("{path}.properties.{k}: must be a schema object")),
            }
        }
    }
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let action = Action::parse(c.choice("action", &BLOCK_WARN_LOG, "block"));
    let Some(schema) = c.raw("schema").and_then(Value::as_object) else {
        c.err("schema", "is required and must be an object");
        return None;
    };
    let mut errs = Vec::new();
    check_schema(schema, &format!("{}.schema", c.path()), &mut errs);
    c.errs.append(&mut errs);
    Some(Arc::new(SchemaGuard {
        schema: Arc::new(Value::Object(schema.clone())),
        action,
    }))
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn satisfies(v: &Value, want: &str) -> bool {
    match want {
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        w => type_of(v) == w,
    }
}

/// The first violation of `doc` against `schema`, as a message.
fn violation(doc: &Value, schema: &Value, path: &str) -> Option<String> {
    if let Some(want) = schema.get("type").and_then(Value::as_str) {
        if !satisfies(doc, want) {
            return Some(format!("{path}: expected {want}, got {}", type_of(doc)));
        }
    }
    let obj = doc.as_object()?;
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = r.as_str() {
            if !obj.contains_key(name) {
                return Some(format!("{path}: missing required field \"{name}\""));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object)?;
    props.iter().find_map(|(k, sub)| {
        let v = obj.get(k)?;
        violation(v, sub, &format!("{path}.{k}"))
    })
}

fn check_choice(schema: &Value, doc: &ChoiceDoc) -> Option<String> {
    if doc.content.trim().is_empty() {
        // A tool call is a different kind of answer, not a malformed one.
        return (!doc.tool_calls).then(|| "response carries no content".to_owned());
    }
    match serde_json::from_str::<Value>(&doc.content) {
        Ok(v) => violation(&v, schema, "response"),
        Err(_) => Some("response is not valid JSON".to_owned()),
    }
}

#[async_trait]
impl Plugin for SchemaGuard {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::AfterRequest]
    }
    async fn on_response(&self, _: &mut Ctx, resp: &ResponseView<'_>) -> PluginResult {
        for c in resp.choices() {
            if let Some(v) = check_choice(&self.schema, c) {
                return act(BUILTIN.name, self.action, Dir::Response, &v);
            }
        }
        Ok(())
    }
    fn on_stream(&self, _: &Ctx) -> Option<Box<dyn ChunkScreen>> {
        Some(Box::new(SchemaScreen {
            schema: self.schema.clone(),
            action: self.action,
            docs: BTreeMap::new(),
            size: 0,
        }))
    }
}

struct SchemaScreen {
    schema: Arc<Value>,
    action: Action,
    docs: BTreeMap<u32, String>,
    size: usize,
}

impl ChunkScreen for SchemaScreen {
    fn on_delta(&mut self, choice: u32, text: &str) -> Result<Screen, PluginError> {
        self.size += text.len();
        if self.size > MAX_HELD_TEXT {
            return Err(PluginError::policy("response too large to validate"));
        }
        self.docs.entry(choice).or_default().push_str(text);
        Ok(match self.action {
            Action::Block => Screen::Hold,
            _ => Screen::Pass,
        })
    }

    fn holds_everything(&self) -> bool {
        self.action == Action::Block
    }

    fn on_end(&mut self) -> Result<(), PluginError> {
        for content in std::mem::take(&mut self.docs).into_values() {
            let doc = ChoiceDoc {
                content,
                ..ChoiceDoc::default()
            };
            if let Some(v) = check_choice(&self.schema, &doc) {
                return act(BUILTIN.name, self.action, Dir::Response, &v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use crate::{PluginError, Screen};
    use serde_json::json;

    fn schema() -> serde_json::Value {
        json!({"schema": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}})
    }

    #[tokio::test]
    async fn validates_answers() {
        let p = plugin("schema-guard", schema());
        let mut ctx = chat_ctx("x");
        assert!(p
            .on_response(&mut ctx, &answer(r#"{"name":"a","age":3}"#))
            .await
            .is_ok());
        let e = p
            .on_response(&mut ctx, &answer(r#"{"age":3.5,"name":"a"}"#))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            PluginError::policy(
                "response blocked by content policy: response.age: expected integer, got number"
            )
        );
        assert!(p
            .on_response(&mut ctx, &answer(r#"{"age":3}"#))
            .await
            .is_err());
        assert!(p.on_response(&mut ctx, &answer("not json")).await.is_err());
    }

    #[tokio::test]
    async fn holds_streams_when_blocking() {
        let p = plugin("schema-guard", schema());
        let mut s = p.on_stream(&chat_ctx("x")).unwrap();
        assert_eq!(s.on_delta(0, "{\"name\":").unwrap(), Screen::Hold);
        assert_eq!(s.on_delta(0, "\"bo\"}").unwrap(), Screen::Hold);
        assert!(s.on_end().is_ok());
        let mut s = p.on_stream(&chat_ctx("x")).unwrap();
        s.on_delta(0, "{}").unwrap();
        assert!(s.on_end().is_err());
        let warn = plugin(
            "schema-guard",
            json!({"schema": {"type": "array"}, "action": "warn"}),
        );
        let mut s = warn.on_stream(&chat_ctx("x")).unwrap();
        assert_eq!(s.on_delta(0, "{}").unwrap(), Screen::Pass);
        assert!(s.on_end().is_ok());
    }

    #[test]
    fn schema_is_checked_at_load() {
        let e = build_err(
            "schema-guard",
            json!({"schema": {"type": "strng", "required": "name"}}),
        );
        assert!(
            e.contains("schema.type") && e.contains("schema.required"),
            "{e}"
        );
        assert!(build_err("schema-guard", json!({})).contains("schema: is required"));
    }
}
