//! `POST /v1/rerank` (Cohere v2 contract) end to end through every
//! rerank-capable provider wire (cohere, bedrock, together, deepinfra,
//! nvidia-nim), failover, validation and the request record; plus
//! `GET /v1/capabilities`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream};
use serde_json::{json, Value};
use std::sync::Arc;

fn docs() -> Value {
    json!([
        "Carson City is the capital city of Nevada.",
        "Washington is the capital of the United States.",
        "Capital punishment exists in the United States."
    ])
}

fn body(model: &str) -> Value {
    json!({"model": model, "query": "What is the capital of the United States?",
        "documents": docs(), "top_n": 2, "return_documents": true})
}

async fn rerank(gw: &Gw, body: Value) -> reqwest::Response {
    gw.post("/v1/rerank")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The contract answer: best first, capped, documents echoed from the request.
fn assert_ranked(v: &Value) {
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 2, "{v}");
    assert_eq!(r[0]["index"], 1, "{v}");
    assert_eq!(r[0]["document"]["text"], docs()[1]);
    let (a, b) = (
        r[0]["relevance_score"].as_f64().unwrap(),
        r[1]["relevance_score"].as_f64().unwrap(),
    );
    assert!(a >= b && (0.0..=1.0).contains(&a), "{v}");
    assert!(v["trace_id"].is_string());
}

#[tokio::test]
async fn cohere_rerank() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("COHERE_API_KEY", "k"), ("COHERE_BASE_URL", &up.url())]).await;
    let resp = rerank(&gw, body("rerank-v3.5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "cohere");
    assert_eq!(resp.headers()["x-gateway-model"], "rerank-v3.5");
    assert!(
        resp.headers().get("x-gateway-cost-usd").is_none(),
        "unpriced"
    );
    let v: Value = resp.json().await.unwrap();
    assert_ranked(&v);
    assert_eq!(v["provider"], "cohere");
    assert_eq!(v["model"], "rerank-v3.5");
    assert_eq!(v["meta"]["billed_units"]["search_units"], 1);
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, "/v2/rerank");
    let sent = rec.body_json().unwrap();
    assert_eq!(sent["top_n"], 2);
    assert!(
        sent.get("return_documents").is_none(),
        "v2 takes no return_documents"
    );
}

#[tokio::test]
async fn bedrock_rerank_is_signed() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("BEDROCK_BASE_URL", &up.url()),
    ])
    .await;
    let resp = rerank(&gw, body("cohere.rerank-v3-5:0")).await;
    assert_eq!(resp.status(), 200);
    assert_ranked(&resp.json().await.unwrap());
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, "/rerank");
    assert!(rec
        .header("authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 Credential=AKID/"));
    let sent = rec.body_json().unwrap();
    assert_eq!(
        sent.pointer(
            "/rerankingConfiguration/bedrockRerankingConfiguration/modelConfiguration/modelArn"
        ),
        Some(&json!(
            "arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0"
        ))
    );
}

#[tokio::test]
async fn openai_wire_providers_rerank_on_their_own_wires() {
    let up = MockUpstream::start().await.unwrap();
    for (env_key, env_base, path) in [
        ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "/v1/rerank"),
        (
            "DEEPINFRA_API_KEY",
            "DEEPINFRA_BASE_URL",
            "/v1/inference/Qwen/Qwen3-Reranker-4B",
        ),
        ("NVIDIA_NIM_API_KEY", "NVIDIA_NIM_BASE_URL", "/v1/ranking"),
    ] {
        let gw = Gw::start(&[(env_key, "k"), (env_base, &up.url())]).await;
        let resp = rerank(&gw, body("Qwen/Qwen3-Reranker-4B")).await;
        assert_eq!(resp.status(), 200, "{env_key}");
        let v: Value = resp.json().await.unwrap();
        assert_ranked(&v);
        assert_eq!(up.last_request().unwrap().path, path, "{env_key}");
        assert_eq!(
            up.last_request().unwrap().header("authorization"),
            Some("Bearer k")
        );
        if env_key != "NVIDIA_NIM_API_KEY" {
            assert!(
                v["meta"]["tokens"]["input_tokens"].as_u64().unwrap() > 0,
                "{v}"
            );
        }
    }
}

#[tokio::test]
async fn failover_validation_and_record() {
    let up = MockUpstream::start().await.unwrap();
    let sink = Arc::new(Captured::default());
    let gw = Gw::start_full(
        &[
            ("COHERE_API_KEY", "k"),
            ("COHERE_BASE_URL", &up.url()),
            ("TOGETHER_API_KEY", "k"),
            ("TOGETHER_BASE_URL", &up.url()),
        ],
        None,
        Some(sink.clone()),
    )
    .await;
    // The env pool is a fallback in table order: cohere fails, together serves.
    up.push_fault(Fault::Status {
        status: 503,
        body: None,
        retry_after: None,
    });
    let resp = rerank(&gw, body("rerank-v3.5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "together");
    assert_eq!(resp.headers()["x-gateway-attempts"], "2");
    assert_ranked(&resp.json().await.unwrap());
    assert!(
        eventually(std::time::Duration::from_secs(2), || async {
            sink.all()
                .iter()
                .any(|r| r.route == "rerank" && r.provider == "together" && r.status == 200)
        })
        .await
    );

    // top_n 0: no results and no upstream call.
    let hits = up.hits();
    let mut b = body("rerank-v3.5");
    b["top_n"] = json!(0);
    let resp = rerank(&gw, b).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["results"], json!([]));
    assert_eq!(up.hits(), hits);

    let mut b = body("rerank-v3.5");
    b["top_n"] = json!(-1);
    expect_error(rerank(&gw, b).await, 400, "invalid_request").await;
    expect_error(
        rerank(&gw, json!({"model": "rerank-v3.5", "documents": ["a"]})).await,
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        rerank(
            &gw,
            json!({"model": "rerank-v3.5", "query": "q", "documents": []}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(up.hits(), hits);
}

#[tokio::test]
async fn no_rerank_capable_target_is_404() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", &up.url())]).await;
    expect_error(
        rerank(&gw, body("rerank-v3.5")).await,
        404,
        "model_not_found",
    )
    .await;
    // With a reranker configured too, a model only a non-reranking provider
    // serves is still not rerankable.
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "k"),
        ("OPENAI_BASE_URL", &up.url()),
        ("COHERE_API_KEY", "k"),
        ("COHERE_BASE_URL", &up.url()),
    ])
    .await;
    expect_error(rerank(&gw, body("gpt-4o")).await, 404, "model_not_found").await;
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn capabilities_come_from_the_matrix() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "k"),
        ("COHERE_API_KEY", "k"),
        ("AWS_BEARER_TOKEN_BEDROCK", "k"),
        ("BEDROCK_BASE_URL", &up.url()),
    ])
    .await;
    let resp = gw.get("/v1/capabilities").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let p = v["providers"].as_object().unwrap();
    let mut names: Vec<&String> = p.keys().collect();
    names.sort();
    assert_eq!(names, ["bedrock", "cohere", "openai"]);
    assert!(p["openai"]
        .as_object()
        .unwrap()
        .values()
        .all(|s| s == "forward"));
    assert_eq!(p["cohere"]["n"], "unsupported");
    assert_eq!(p["cohere"]["tools"], "translate");
    assert_eq!(p["bedrock"]["logit_bias"], "unsupported");
    assert_eq!(p["bedrock"]["max_tokens"], "translate");
    assert_eq!(
        v["image_response_formats"],
        json!({"bedrock": ["b64_json"]})
    );
    // Auth like every /v1 route.
    let resp = gw
        .client
        .get(format!("{}/v1/capabilities", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
