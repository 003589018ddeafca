//! The mock's Google wires: Gemini API, Vertex AI and the OAuth token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ferro_mock_upstream::{MockUpstream, GEMINI_BAD_KEY};
use serde_json::{json, Value};

const GEN: &str = "/v1beta/models/gemini-2.0-flash:generateContent";

async fn post(up: &MockUpstream, path: &str, body: &Value, key: Option<&str>) -> (u16, String) {
    let mut rb = common::client()
        .post(format!("{}{path}", up.url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        rb = rb.header("x-goog-api-key", k);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn user(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

fn google_error(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap();
    (
        v["error"]["status"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn credentials_are_checked() {
    let up = MockUpstream::start().await.unwrap();
    let (s, b) = post(&up, GEN, &user("hi"), None).await;
    assert_eq!((s, google_error(&b).0.as_str()), (403, "PERMISSION_DENIED"));
    let (s, b) = post(&up, GEN, &user("hi"), Some(GEMINI_BAD_KEY)).await;
    assert_eq!(s, 400);
    assert!(b.contains("API_KEY_INVALID"));
    let (s, _) = post(&up, &format!("{GEN}?key=k"), &user("hi"), None).await;
    assert_eq!(s, 200, "the key may also come as ?key=");
    let vertex =
        "/v1/projects/p/locations/r/publishers/google/models/gemini-2.0-flash:generateContent";
    let resp = common::client()
        .post(format!("{}{vertex}", up.url()))
        .bearer_auth("ya29.not-issued")
        .body(user("hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn unknown_fields_are_refused() {
    let up = MockUpstream::start().await.unwrap();
    let mut body = user("hi");
    body["model"] = json!("gemini-2.0-flash");
    let (s, b) = post(&up, GEN, &body, Some("k")).await;
    assert_eq!(s, 400);
    assert_eq!(
        google_error(&b),
        (
            "INVALID_ARGUMENT".to_owned(),
            "Invalid JSON payload received. Unknown name \"model\": Cannot find field.".to_owned()
        )
    );
    let mut body = user("hi");
    body["generationConfig"] = json!({"max_tokens": 5});
    let (s, b) = post(&up, GEN, &body, Some("k")).await;
    assert_eq!(s, 400);
    assert!(b.contains("generation_config"), "{b}");
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
            "type": "object", "additionalProperties": false, "properties": {"a": {"type": "string"}}}}]}]});
    let (s, b) = post(&up, GEN, &body, Some("k")).await;
    assert_eq!(s, 400);
    assert!(b.contains("additionalProperties"), "{b}");
    let (s, _) = post(&up, GEN, &json!({"contents": []}), Some("k")).await;
    assert_eq!(s, 400);
    let (s, _) = post(
        &up,
        GEN,
        &json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
        Some("k"),
    )
    .await;
    assert_eq!(s, 400, "assistant is not a Gemini role");
}

#[tokio::test]
async fn generate_stream_and_tools() {
    let up = MockUpstream::start().await.unwrap();
    let (s, b) = post(&up, GEN, &user("Hello"), Some("k")).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "[gemini mock] You said: Hello"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    let u = &v["usageMetadata"];
    assert_eq!(
        u["totalTokenCount"].as_u64().unwrap(),
        u["promptTokenCount"].as_u64().unwrap() + u["candidatesTokenCount"].as_u64().unwrap()
    );

    let stream = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";
    let (s, b) = post(&up, stream, &user("Hello"), Some("k")).await;
    assert_eq!(s, 200);
    assert!(b.contains("\r\n\r\n"), "Google's frame terminator");
    let frames: Vec<Value> = b
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(frames.len(), 5);
    let text: String = frames
        .iter()
        .filter_map(|f| f["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "[gemini mock] You said: Hello");
    assert_eq!(frames[4]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        frames[4]["usageMetadata"], v["usageMetadata"],
        "last frame = final usage"
    );

    let tools = json!([{"functionDeclarations": [
        {"name": "a", "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}},
        {"name": "b"}]}]);
    let mut body = user("please use all tools");
    body["tools"] = tools.clone();
    let (_, b) = post(&up, GEN, &body, Some("k")).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0]["functionCall"],
        json!({"name": "a", "args": {"q": "mock", "n": 1}})
    );
    let mut body = user("use tool");
    body["tools"] = tools;
    body["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}});
    let (_, b) = post(&up, GEN, &body, Some("k")).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "b"
    );
}

#[tokio::test]
async fn embeddings_and_predict() {
    let up = MockUpstream::start().await.unwrap();
    let one = json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}, "outputDimensionality": 4});
    let (s, b) = post(
        &up,
        "/v1beta/models/gemini-embedding-001:embedContent",
        &one,
        Some("k"),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 4);
    let batch = json!({"requests": [one.clone(), {"model": "models/other", "content": {"parts": [{"text": "y"}]}}]});
    let (s, _) = post(
        &up,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        &batch,
        Some("k"),
    )
    .await;
    assert_eq!(s, 400, "every request must name the path's model");
    let batch = json!({"requests": [one.clone(), one]});
    let (s, b) = post(
        &up,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        &batch,
        Some("k"),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["embeddings"][0], v["embeddings"][1], "deterministic");
    let predict = "/v1/projects/p/locations/r/publishers/google/models/text-embedding-004:predict";
    let (s, b) = post(
        &up,
        predict,
        &json!({"instances": [{"content": "hello"}]}),
        Some("k"),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["predictions"][0]["embeddings"]["statistics"]["token_count"],
        2
    );
}

#[tokio::test]
async fn token_endpoint_checks_the_grant_shape() {
    let up = MockUpstream::start().await.unwrap();
    let send = |body: String| {
        let url = format!("{}/token", up.url());
        async move {
            let resp = common::client()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = send("grant_type=client_credentials".into()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let grant = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
    let (s, v) = send(format!("{grant}&assertion=a.b.c")).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    // A well-formed (unsigned for the mock's purposes) assertion.
    let b64 = |v: Value| {
        let s = v.to_string();
        base64url(s.as_bytes())
    };
    let jwt = format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            json!({"iss": "sa@p.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform",
                   "aud": "http://x/token", "iat": 100, "exp": 3700})
        ),
        base64url(&[7u8; 256])
    );
    let (s, v) = send(format!("{grant}&assertion={jwt}")).await;
    assert_eq!(s, 200, "{v}");
    let token = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(v["token_type"], "Bearer");
    // The issued token now opens the Vertex routes.
    let vertex =
        "/v1/projects/p/locations/r/publishers/google/models/gemini-2.0-flash:generateContent";
    let resp = common::client()
        .post(format!("{}{vertex}", up.url()))
        .bearer_auth(&token)
        .body(user("hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.hits_for("/token"), 3);
}

fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}
