//! Request validation of `generateContent`, as strict as Google's: known
//! top-level fields only (`labels` on Vertex too), known `generationConfig`
//! keys, non-empty `contents` with `user` / `model` roles and well-formed
//! parts, and schemas (function `parameters`, `responseSchema`) limited to
//! Gemini's OpenAPI subset. Errors are Google's 400 messages.

use serde_json::{Map, Value};

/// Top-level fields of `GenerateContentRequest`.
pub const FIELDS: [&str; 7] = [
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
];

const GENERATION_CONFIG: [&str; 18] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "mediaResolution",
    "speechConfig",
];

const PART_FIELDS: [&str; 10] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
];

const SCHEMA_FIELDS: [&str; 22] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

fn check_schema(v: &Value, at: &str) -> Result<(), String> {
    let Some(o) = v.as_object() else {
        return Err(format!("{at}: a schema must be an object"));
    };
    for (k, x) in o {
        if !SCHEMA_FIELDS.contains(&k.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\" at '{at}': Cannot find field."
            ));
        }
        match k.as_str() {
            "properties" => {
                let props = x
                    .as_object()
                    .ok_or(format!("{at}.properties must be an object"))?;
                if props.is_empty()
                    && o.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("object"))
                {
                    return Err(format!(
                        "{at}.properties: should be non-empty for OBJECT type"
                    ));
                }
                for (name, s) in props {
                    check_schema(s, &format!("{at}.properties[{name}]"))?;
                }
            }
            "items" => check_schema(x, &format!("{at}.items"))?,
            "anyOf" => {
                for (i, s) in x.as_array().into_iter().flatten().enumerate() {
                    check_schema(s, &format!("{at}.any_of[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_parts(parts: Option<&Value>, at: &str) -> Result<(), String> {
    let parts = parts
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or(format!(
            "* GenerateContentRequest.{at}.parts: contents.parts must not be empty."
        ))?;
    for (i, p) in parts.iter().enumerate() {
        let o = p
            .as_object()
            .ok_or(format!("{at}.parts[{i}] must be an object"))?;
        if let Some(k) = o.keys().find(|k| !PART_FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\" at '{at}.parts[{i}]': Cannot find field."
            ));
        }
        if let Some(t) = o.get("text") {
            if t.as_str().is_some_and(str::is_empty) {
                return Err(
                    "Unable to submit request because it has an empty text parameter.".into(),
                );
            }
        }
        if let Some(d) = o.get("inlineData") {
            if d.get("mimeType").is_none() || d.get("data").is_none() {
                return Err(format!(
                    "{at}.parts[{i}].inlineData needs mimeType and data"
                ));
            }
        }
        if o.get("fileData")
            .is_some_and(|d| d.get("fileUri").is_none())
        {
            return Err(format!("{at}.parts[{i}].fileData needs fileUri"));
        }
        if o.get("functionResponse").is_some_and(|f| {
            f.get("name").is_none() || !f.get("response").is_some_and(Value::is_object)
        }) {
            return Err(format!(
                "{at}.parts[{i}].functionResponse needs a name and a response object"
            ));
        }
    }
    Ok(())
}

/// Validates a `GenerateContentRequest`; `Err` is Google's 400 message.
pub(crate) fn validate(req: &Map<String, Value>, vertex: bool) -> Result<(), String> {
    if let Some(k) = req
        .keys()
        .find(|k| !(FIELDS.contains(&k.as_str()) || vertex && k.as_str() == "labels"))
    {
        return Err(format!(
            "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
        ));
    }
    let contents = req
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if !matches!(role, "user" | "model" | "function") {
            return Err(format!(
                "Please use a valid role: user, model. (contents[{i}].role = {role})"
            ));
        }
        check_parts(c.get("parts"), &format!("contents[{i}]"))?;
    }
    if let Some(si) = req.get("systemInstruction") {
        check_parts(si.get("parts"), "system_instruction")?;
    }
    if let Some(gc) = req.get("generationConfig") {
        let gc = gc.as_object().ok_or("generationConfig must be an object")?;
        if let Some(k) = gc.keys().find(|k| !GENERATION_CONFIG.contains(&k.as_str())) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\" at 'generation_config': Cannot find field."
            ));
        }
        if let Some(s) = gc.get("responseSchema") {
            check_schema(s, "generation_config.response_schema")?;
        }
    }
    for (i, t) in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, d) in t
            .get("functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if d.get("name").and_then(Value::as_str).is_none() {
                return Err(format!(
                    "tools[{i}].function_declarations[{j}].name is required"
                ));
            }
            if let Some(p) = d.get("parameters") {
                check_schema(
                    p,
                    &format!("tools[{i}].function_declarations[{j}].parameters"),
                )?;
            }
        }
    }
    Ok(())
}
