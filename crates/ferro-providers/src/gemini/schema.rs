//! JSON Schema → the OpenAPI-3 subset Gemini accepts in `responseSchema` and
//! function `parameters`. Keywords Gemini rejects (`additionalProperties`,
//! `$schema`, `$id`, `strict`, `examples`, unknown `format`s, …) are dropped;
//! `$ref`s into `$defs` / `definitions` are inlined (bounded depth); type arrays
//! with `"null"` become `nullable`; `const` becomes a one-value `enum`;
//! `oneOf` becomes `anyOf`.

use serde_json::{Map, Value};

/// Keywords copied as they are.
const KEEP: [&str; 17] = [
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "propertyOrdering",
    "default",
    "minimum",
    "maximum",
    "required",
];

/// How deep `$ref` inlining may go (recursive schemas are cut there).
const MAX_REF_DEPTH: usize = 8;
/// How deep any schema may nest before it is cut to a bare object.
const MAX_DEPTH: usize = 64;

/// Sanitises `schema` (a JSON Schema document, possibly with `$defs`).
pub fn sanitize(schema: &Value) -> Value {
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .or_else(|| schema.get("definitions").and_then(Value::as_object))
        .unwrap_or(&empty);
    walk(schema, defs, 0, 0)
}

fn resolve<'a>(r: &str, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let name = r
        .strip_prefix("#/$defs/")
        .or_else(|| r.strip_prefix("#/definitions/"))?;
    defs.get(name)
}

fn walk(v: &Value, defs: &Map<String, Value>, refs: usize, depth: usize) -> Value {
    let Some(obj) = v.as_object() else {
        // `true` / `false` schemas: nothing Gemini can express; leave it open.
        return Value::Object(Map::new());
    };
    if depth > MAX_DEPTH {
        return serde_json::json!({"type": "object"});
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        return match resolve(r, defs) {
            Some(target) if refs < MAX_REF_DEPTH => {
                let mut inlined = walk(target, defs, refs + 1, depth + 1);
                // Sibling keywords of $ref (description) win over the target's.
                if let (Some(o), Some(d)) = (inlined.as_object_mut(), obj.get("description")) {
                    o.insert("description".into(), d.clone());
                }
                inlined
            }
            _ => serde_json::json!({"type": "object"}),
        };
    }
    let mut out = Map::new();
    for k in KEEP {
        if let Some(x) = obj.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    match obj.get("type") {
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::String(t.clone()));
        }
        Some(Value::Array(ts)) => {
            let non_null: Vec<&Value> = ts.iter().filter(|t| t.as_str() != Some("null")).collect();
            if non_null.len() < ts.len() {
                out.insert("nullable".into(), Value::Bool(true));
            }
            match non_null.as_slice() {
                [one] => {
                    out.insert("type".into(), (*one).clone());
                }
                [] => {}
                many => {
                    let any: Vec<Value> = many
                        .iter()
                        .map(|t| serde_json::json!({"type": t}))
                        .collect();
                    out.insert("anyOf".into(), Value::Array(any));
                }
            }
        }
        _ => {}
    }
    if let Some(c) = obj.get("const") {
        out.insert("enum".into(), Value::Array(vec![c.clone()]));
    }
    if let Some(Value::String(f)) = obj.get("format") {
        let t = out.get("type").and_then(Value::as_str).unwrap_or("");
        let ok = match t.to_ascii_lowercase().as_str() {
            "string" => f == "enum" || f == "date-time",
            "integer" => f == "int32" || f == "int64",
            "number" => f == "float" || f == "double",
            _ => false,
        };
        if ok {
            out.insert("format".into(), Value::String(f.clone()));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let mut p = Map::new();
        for (k, s) in props {
            p.insert(k.clone(), walk(s, defs, refs, depth + 1));
        }
        if let Some(Value::Array(req)) = out.get_mut("required") {
            req.retain(|r| r.as_str().is_some_and(|r| p.contains_key(r)));
        }
        if p.is_empty() {
            out.remove("required");
        } else {
            out.insert("properties".into(), Value::Object(p));
        }
    } else {
        out.remove("required");
    }
    match obj.get("items") {
        Some(Value::Array(tuple)) => {
            if let Some(first) = tuple.first() {
                out.insert("items".into(), walk(first, defs, refs, depth + 1));
            }
        }
        Some(items) => {
            out.insert("items".into(), walk(items, defs, refs, depth + 1));
        }
        None => {}
    }
    let alts = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alts) = alts {
        let mut any = Vec::with_capacity(alts.len());
        let mut nullable = false;
        for a in alts {
            if a.get("type").and_then(Value::as_str) == Some("null") {
                nullable = true;
            } else {
                any.push(walk(a, defs, refs, depth + 1));
            }
        }
        if nullable {
            out.insert("nullable".into(), Value::Bool(true));
        }
        if any.len() == 1 && !out.contains_key("type") {
            if let Some(Value::Object(one)) = any.pop() {
                for (k, v) in one {
                    out.entry(k).or_insert(v);
                }
            }
        } else if !any.is_empty() {
            out.insert("anyOf".into(), Value::Array(any));
        }
    }
    if let Some(Value::Array(all)) = obj.get("allOf") {
        for a in all {
            if let Value::Object(one) = walk(a, defs, refs, depth + 1) {
                for (k, v) in one {
                    out.entry(k).or_insert(v);
                }
            }
        }
    }
    Value::Object(out)
}

/// Whether a sanitised function `parameters` schema says nothing (an object
/// with no properties), which Gemini refuses: the declaration omits it then.
pub fn is_empty_object(schema: &Value) -> bool {
    let t = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    matches!(t.as_deref(), Some("object") | None) && schema.get("properties").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_and_rewrites() {
        let s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "format": "email"},
                "when": {"type": "string", "format": "date-time"},
                "age": {"type": ["integer", "null"]},
                "kind": {"const": "x"},
                "pet": {"$ref": "#/$defs/Pet", "description": "the pet"},
                "tags": {"type": "array", "items": {"type": "string"}, "examples": [["a"]]}
            },
            "required": ["name", "ghost"],
            "$defs": {"Pet": {"type": "object", "properties": {"n": {"type": "string"}},
                              "additionalProperties": false}}
        });
        let out = sanitize(&s);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "when": {"type": "string", "format": "date-time"},
                    "age": {"type": "integer", "nullable": true},
                    "kind": {"enum": ["x"]},
                    "pet": {"type": "object", "description": "the pet",
                            "properties": {"n": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["name"]
            })
        );
    }

    #[test]
    fn recursive_refs_are_cut() {
        let s = json!({"$ref": "#/$defs/N", "$defs": {"N": {"type": "object",
            "properties": {"next": {"$ref": "#/$defs/N"}}}}});
        let out = sanitize(&s);
        assert_eq!(out["type"], "object");
        assert!(out.to_string().len() < 4096);
    }

    #[test]
    fn any_of_with_null() {
        let s = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert_eq!(sanitize(&s), json!({"type": "string", "nullable": true}));
        assert!(is_empty_object(&sanitize(
            &json!({"type": "object", "properties": {}})
        )));
    }
}
