//! Every OpenAI-shaped endpoint over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, post_json};
use ferro_mock_upstream::MockUpstream;
use serde_json::{json, Value};

#[tokio::test]
async fn chat_completion_has_openai_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let (status, v) = post_json(
        &format!("{}/v1/chat/completions", mock.url()),
        &json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hi"}
            ]
        }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["system_fingerprint"], "fp_mock");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "mock reply to: Say hi");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    // "You are terse." (14) + "Say hi" (6) = 20 chars -> 20/4 + 1
    assert_eq!(v["usage"]["prompt_tokens"], 6);
    assert_eq!(v["usage"]["completion_tokens"], 5);
    assert_eq!(v["usage"]["total_tokens"], 11);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(mock.hits_for("/v1/chat/completions"), 1);
}

#[tokio::test]
async fn chat_ids_increment_and_n_gives_multiple_choices() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/chat/completions", mock.url());
    let body = json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "x"}]});
    let (_, a) = post_json(&url, &body).await;
    let (_, b) = post_json(&url, &body).await;
    assert_ne!(a["id"], b["id"]);
    let choices = a["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    assert_eq!(choices[2]["index"], 2);
    assert_eq!(a["usage"]["completion_tokens"], 3 * 4);
}

#[tokio::test]
async fn chat_on_azure_and_bare_paths() {
    let mock = MockUpstream::start().await.unwrap();
    let azure = format!(
        "{}/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        mock.url()
    );
    // Azure bodies may omit the model: the deployment name stands in.
    let (status, v) = post_json(
        &azure,
        &json!({"messages": [{"role": "user", "content": "az"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["model"], "my-gpt");
    assert_eq!(v["choices"][0]["message"]["content"], "mock reply to: az");
    assert_eq!(
        mock.hits_for("/openai/deployments/my-gpt/chat/completions"),
        1
    );

    let (status, v) = post_json(
        &format!("{}/chat/completions", mock.url()),
        &json!({"model": "m", "messages": [{"role": "user", "content": "bare"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["object"], "chat.completion");
}

#[tokio::test]
async fn x_mock_usage_header_replaces_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let usage = r#"{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,"prompt_tokens_details":{"cached_tokens":80},"completion_tokens_details":{"reasoning_tokens":3}}"#;
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .header("x-mock-usage", usage)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["usage"], serde_json::from_str::<Value>(usage).unwrap());

    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .header("x-mock-usage", "not json")
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn bad_json_is_400_openai_envelope() {
    let mock = MockUpstream::start().await.unwrap();
    for path in [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/images/generations",
        "/v1/moderations",
    ] {
        let resp = client()
            .post(format!("{}{path}", mock.url()))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{path}");
        assert!(v["error"]["message"].as_str().unwrap().contains("JSON"));
    }
}

#[tokio::test]
async fn legacy_completions() {
    let mock = MockUpstream::start().await.unwrap();
    let (status, v) = post_json(
        &format!("{}/v1/completions", mock.url()),
        &json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-mock-"));
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "gpt-3.5-turbo-instruct");
    let c = &v["choices"][0];
    assert_eq!(c["text"], "mock reply to: Once upon");
    assert_eq!(c["index"], 0);
    assert_eq!(c["logprobs"], Value::Null);
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["completion_tokens"], 5);

    let (_, v) = post_json(
        &format!("{}/v1/completions", mock.url()),
        &json!({"model": "m", "prompt": ["a", "b"]}),
    )
    .await;
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    assert_eq!(v["choices"][1]["text"], "mock reply to: b");
}

#[tokio::test]
async fn embeddings_single_and_batch_are_deterministic() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/embeddings", mock.url());
    let (status, one) = post_json(
        &url,
        &json!({"model": "text-embedding-3-small", "input": "hello"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "text-embedding-3-small");
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    let emb = one["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(emb.len(), 8);
    assert!(emb.iter().all(|x| x.as_f64().unwrap().abs() <= 1.0));
    assert_eq!(one["usage"]["prompt_tokens"], 2);
    assert_eq!(one["usage"]["total_tokens"], 2);

    let (_, batch) = post_json(
        &url,
        &json!({"model": "text-embedding-3-small", "input": ["hello", "world", "hello"]}),
    )
    .await;
    let data = batch["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert_eq!(data[0]["embedding"], one["data"][0]["embedding"]);
    assert_eq!(data[0]["embedding"], data[2]["embedding"]);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    // The OpenAI SDKs default to base64: 8 little-endian f32 = 32 bytes.
    let (_, b64) = post_json(
        &url,
        &json!({"model": "m", "input": "hello", "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(b64["data"][0]["embedding"].as_str().unwrap().len(), 44);

    // Azure-style path suffix.
    let (status, _) = post_json(
        &format!(
            "{}/openai/deployments/emb/embeddings?api-version=1",
            mock.url()
        ),
        &json!({"input": "x"}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn image_generations_url_and_b64() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/images/generations", mock.url());
    let (status, v) = post_json(&url, &json!({"model": "dall-e-3", "prompt": "a cat"})).await;
    assert_eq!(status, 200);
    assert!(v["created"].as_u64().is_some());
    assert_eq!(v["data"][0]["url"], "https://example.invalid/mock.png");
    assert_eq!(v["data"][0]["revised_prompt"], "a cat");
    assert!(v["data"][0].get("b64_json").is_none());

    let (_, v) = post_json(
        &url,
        &json!({"prompt": "a dog", "n": 2, "response_format": "b64_json"}),
    )
    .await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data[0]["b64_json"]
        .as_str()
        .unwrap()
        .starts_with("iVBORw0KGgo"));
    assert!(data[0].get("url").is_none());
}

#[tokio::test]
async fn moderations_all_clear() {
    let mock = MockUpstream::start().await.unwrap();
    let (status, v) = post_json(
        &format!("{}/v1/moderations", mock.url()),
        &json!({"input": ["one", "two"]}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["id"].as_str().unwrap().starts_with("modr-mock-"));
    assert_eq!(v["model"], "omni-moderation-latest");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["flagged"], false);
    assert_eq!(results[0]["categories"]["self-harm/intent"], false);
    assert_eq!(results[0]["category_scores"]["harassment/threatening"], 0.0);
}

#[tokio::test]
async fn models_list_and_single_model() {
    let mock = MockUpstream::start().await.unwrap();
    let v: Value = client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert!(data.len() >= 3);
    assert!(data
        .iter()
        .all(|m| m["object"] == "model" && m["owned_by"] == "mock"));
    assert!(data.iter().any(|m| m["id"] == "gpt-4o"));

    let v: Value = client()
        .get(format!("{}/v1/models/gpt-4o-mini", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["id"], "gpt-4o-mini");
    assert_eq!(v["object"], "model");
}

#[tokio::test]
async fn unknown_paths_echo_path_and_method() {
    let mock = MockUpstream::start().await.unwrap();
    let resp = client()
        .delete(format!("{}/v1/files/file-abc?purpose=x", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"ok": true, "path": "/v1/files/file-abc", "method": "DELETE", "query": "purpose=x"})
    );

    // POST to an unknown path is echoed, body not parsed.
    let resp = client()
        .post(format!("{}/v1/responses", mock.url()))
        .body("not json at all")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["path"], "/v1/responses");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["query"], Value::Null);
}
