//! OpenTelemetry export (CONTRACT §5.7, §2.1) into a local OTLP/HTTP collector
//! stub that decodes the protobuf: the `gateway.request` span carries the
//! request's trace id (= `X-Request-ID`), the caller's `traceparent` as parent,
//! `gen_ai.*` / `ferro.*` attributes, one `gateway.routing.attempt` child per
//! upstream attempt, and each upstream call carries its attempt's
//! `traceparent`. Privacy levels decide what content and error text a span holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockOptions, MockUpstream};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A collector that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    async fn start() -> (Collector, String) {
        let c = Collector::default();
        let state = c.clone();
        let app = axum::Router::new().fallback(move |uri: http::Uri, body: bytes::Bytes| {
            let state = state.clone();
            async move {
                state.paths.lock().unwrap().push(uri.path().to_owned());
                let req = ExportTraceServiceRequest::decode(body).unwrap();
                let mut spans = state.spans.lock().unwrap();
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        spans.extend(ss.spans);
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        (c, url)
    }

    /// The same collector over OTLP/gRPC: HTTP/2 with gRPC's 5-byte framing
    /// and a `grpc-status` trailer, enough for the tonic exporter.
    async fn start_grpc() -> (Collector, String) {
        use http_body_util::StreamBody;
        let c = Collector::default();
        let state = c.clone();
        let app = axum::Router::new().route(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            axum::routing::post(move |body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    let req = ExportTraceServiceRequest::decode(&body[5..]).unwrap();
                    state.paths.lock().unwrap().push("grpc".to_owned());
                    let mut spans = state.spans.lock().unwrap();
                    for rs in req.resource_spans {
                        for ss in rs.scope_spans {
                            spans.extend(ss.spans);
                        }
                    }
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                    let frames = futures_util::stream::iter([
                        Ok::<_, std::convert::Infallible>(http_body::Frame::data(
                            bytes::Bytes::from_static(&[0, 0, 0, 0, 0]),
                        )),
                        Ok(http_body::Frame::trailers(trailers)),
                    ]);
                    (
                        [("content-type", "application/grpc")],
                        axum::body::Body::new(StreamBody::new(frames)),
                    )
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        (c, url)
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

fn attr(s: &Span, key: &str) -> Option<Any> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

fn s(v: &str) -> Option<Any> {
    Some(Any::StringValue(v.to_owned()))
}

async fn traced_gateway(up: &MockUpstream, collector: &str, config_extra: &str) -> Gw {
    let cfg = format!(
        r#"
strategy: {{mode: fallback}}
providers:
  - {{name: primary, type: openai, base_url: "{u}/v1", api_key: k1, models: [gpt-4o-mini]}}
  - {{name: backup, type: openai, base_url: "{u}/v1", api_key: k2, models: [gpt-4o-mini]}}
targets:
  - virtual_key: primary
  - virtual_key: backup
{config_extra}"#,
        u = up.url()
    );
    Gw::start_with_config(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
        Some(&cfg),
    )
    .await
}

/// Exports what is queued (the batch exporter blocks: not on a worker).
async fn flush(gw: &Gw) {
    let t = gw.state.obs.tracing.clone().expect("tracing is on");
    tokio::task::spawn_blocking(move || t.flush())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_attempt_spans_with_inbound_parent() {
    let up = MockUpstream::start_with(MockOptions {
        record: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let (col, url) = Collector::start().await;
    let gw = traced_gateway(&up, &url, "").await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    // the first target fails once: two attempts, failover to `backup`
    up.push_fault(Fault::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    let r = gw
        .post("/v1/chat/completions")
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .body(chat_body("gpt-4o-mini", "trace me").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], trace);
    let v: Value = r.json().await.unwrap();
    flush(&gw).await;

    let spans = col.spans();
    assert!(
        col.paths.lock().unwrap().iter().all(|p| p == "/v1/traces"),
        "OTLP/HTTP traces path"
    );
    let root: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "gateway.request")
        .collect();
    assert_eq!(root.len(), 1, "{spans:?}");
    let root = root[0];
    assert_eq!(
        hex::encode(&root.trace_id),
        trace,
        "span trace id = X-Request-ID"
    );
    assert_eq!(hex::encode(&root.parent_span_id), caller_span);
    assert_eq!(root.kind, 2, "SERVER");
    assert_eq!(attr(root, "gen_ai.operation.name"), s("chat"));
    assert_eq!(attr(root, "gen_ai.request.model"), s("gpt-4o-mini"));
    assert_eq!(attr(root, "gen_ai.response.model"), s("gpt-4o-mini"));
    assert_eq!(attr(root, "gen_ai.system"), s("openai"));
    assert_eq!(attr(root, "gen_ai.provider.name"), s("openai"));
    assert_eq!(attr(root, "ferro.routing.target_key"), s("backup"));
    assert_eq!(attr(root, "ferro.routing.attempt"), Some(Any::IntValue(2)));
    assert_eq!(attr(root, "ferro.gateway.trace_id"), s(trace));
    assert_eq!(attr(root, "ferro.cache.hit"), Some(Any::BoolValue(false)));
    assert_eq!(
        attr(root, "gen_ai.usage.input_tokens"),
        Some(Any::IntValue(v["usage"]["prompt_tokens"].as_i64().unwrap()))
    );
    assert_eq!(
        attr(root, "gen_ai.usage.output_tokens"),
        Some(Any::IntValue(
            v["usage"]["completion_tokens"].as_i64().unwrap()
        ))
    );
    assert_eq!(
        attr(root, "ferro.cost.usd"),
        Some(Any::DoubleValue(v["usage"]["cost_usd"].as_f64().unwrap()))
    );
    assert_eq!(
        attr(root, "gen_ai.input.messages"),
        None,
        "metadata privacy"
    );

    let mut attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "gateway.routing.attempt")
        .collect();
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(attempts.len(), 2);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a.trace_id, root.trace_id);
        assert_eq!(a.parent_span_id, root.span_id, "child of gateway.request");
        assert_eq!(a.kind, 3, "CLIENT");
        assert_eq!(
            attr(a, "ferro.routing.sequence"),
            Some(Any::IntValue(i as i64 + 1))
        );
        assert!(a.start_time_unix_nano >= root.start_time_unix_nano);
        assert!(a.end_time_unix_nano <= root.end_time_unix_nano);
    }
    assert_eq!(attr(attempts[0], "ferro.routing.target_key"), s("primary"));
    assert_eq!(attr(attempts[0], "ferro.routing.outcome"), s("error"));
    assert_eq!(attr(attempts[0], "error.type"), s("provider_error"));
    assert_eq!(
        attr(attempts[0], "http.response.status_code"),
        Some(Any::IntValue(500))
    );
    assert_eq!(attempts[0].status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(attr(attempts[1], "ferro.routing.target_key"), s("backup"));
    assert_eq!(attr(attempts[1], "ferro.routing.outcome"), s("success"));

    // each upstream call named its own attempt span
    let sent: Vec<String> = up
        .requests()
        .iter()
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "traceparent")
                .map(|(_, v)| v.clone())
        })
        .collect();
    let want: Vec<String> = attempts
        .iter()
        .map(|a| format!("00-{trace}-{}-01", hex::encode(&a.span_id)))
        .collect();
    assert_eq!(sent, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_trace_ids_and_full_privacy_content() {
    let up = MockUpstream::start().await.unwrap();
    let (col, url) = Collector::start().await;
    let gw = traced_gateway(
        &up,
        &url,
        "observability: {tracing: {privacy_level: full, service_name: ferro-test}}\n",
    )
    .await;
    let r = gw.chat(chat_body("gpt-4o-mini", "secret recipe")).await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let r = gw
        .chat(serde_json::json!({"model": "gpt-4o-mini", "stream": true,
            "messages": [{"role": "user", "content": "stream"}]}))
        .await;
    let _ = sse_payloads(r).await;
    // the stream's record (and span) is emitted when its relay ends
    tokio::time::sleep(Duration::from_millis(100)).await;
    flush(&gw).await;
    let spans = col.spans();
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "gateway.request")
        .collect();
    assert_eq!(roots.len(), 2, "{spans:?}");
    let first = roots
        .iter()
        .find(|s| hex::encode(&s.trace_id) == rid)
        .expect("span of the first request");
    assert!(
        first.parent_span_id.is_empty(),
        "no inbound parent: a root span"
    );
    let input = match attr(first, "gen_ai.input.messages") {
        Some(Any::StringValue(v)) => v,
        other => panic!("{other:?}"),
    };
    assert!(input.contains("secret recipe"), "{input}");
    let output = match attr(first, "gen_ai.output.messages") {
        Some(Any::StringValue(v)) => v,
        other => panic!("{other:?}"),
    };
    assert!(output.contains("\"assistant\""), "{output}");
    let stream = roots
        .iter()
        .find(|s| hex::encode(&s.trace_id) != rid)
        .unwrap();
    assert_eq!(
        attr(stream, "gen_ai.request.is_stream"),
        Some(Any::BoolValue(true))
    );
    assert!(matches!(
        attr(stream, "ferro.stream.time_to_first_token_ms"),
        Some(Any::DoubleValue(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_none_hides_error_text_and_unsampled_requests_export_nothing() {
    let up = MockUpstream::start().await.unwrap();
    let (col, url) = Collector::start().await;
    let gw = traced_gateway(
        &up,
        &url,
        "observability: {tracing: {privacy_level: none}}\n",
    )
    .await;
    up.set_fault(Fault::Status {
        status: 503,
        body: Some(r#"{"error":{"message":"db password hunter2 leaked"}}"#.into()),
        retry_after: None,
    });
    let r = gw.chat(chat_body("gpt-4o-mini", "x")).await;
    assert!(r.status().is_server_error());
    up.clear_faults();
    // a caller that did not sample its trace: parent-based, nothing exported
    let r = gw
        .post("/v1/chat/completions")
        .header(
            "traceparent",
            "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-00f067aa0ba902b7-00",
        )
        .body(chat_body("gpt-4o-mini", "x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    flush(&gw).await;
    let spans = col.spans();
    assert!(spans
        .iter()
        .all(|s| hex::encode(&s.trace_id) != "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    let root = spans.iter().find(|s| s.name == "gateway.request").unwrap();
    assert_eq!(root.status.as_ref().map(|s| s.code), Some(2), "ERROR");
    for s in &spans {
        let msg = s
            .status
            .as_ref()
            .map(|s| s.message.clone())
            .unwrap_or_default();
        assert!(!msg.contains("hunter2"), "{msg}");
        if s.status.as_ref().is_some_and(|st| st.code == 2) {
            assert_eq!(msg, "redacted");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_is_the_default_protocol() {
    let (col, url) = Collector::start_grpc().await;
    let gw = Gw::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]).await;
    let r = gw.chat(chat_body("gpt-4o-mini", "over grpc")).await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    flush(&gw).await;
    let spans = col.spans();
    assert_eq!(
        col.paths.lock().unwrap().first().map(String::as_str),
        Some("grpc")
    );
    let root = spans
        .iter()
        .find(|s| s.name == "gateway.request")
        .expect("request span over gRPC");
    assert_eq!(hex::encode(&root.trace_id), rid);
    assert_eq!(attr(root, "gen_ai.system"), s("mock"));
    assert!(spans.iter().any(|s| s.name == "gateway.routing.attempt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_hooks_are_child_spans() {
    let up = MockUpstream::start().await.unwrap();
    let (col, url) = Collector::start().await;
    let plugins = "plugins:\n  - {name: word-filter, type: guardrail, stage: before_request, enabled: true,\n     config: {blocked_words: [forbidden]}}\n  - {name: max-token, type: guardrail, stage: before_request, enabled: true,\n     config: {max_tokens: 100000}}\n";
    let gw = traced_gateway(&up, &url, plugins).await;
    let ok = gw.chat(chat_body("gpt-4o-mini", "fine words")).await;
    assert_eq!(ok.status(), 200);
    let ok_id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    let denied = gw.chat(chat_body("gpt-4o-mini", "a forbidden word")).await;
    assert_eq!(denied.status(), 400);
    let denied_id = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    flush(&gw).await;
    let spans = col.spans();
    let of = |trace: &str| -> (Span, Vec<Span>) {
        let mine: Vec<Span> = spans
            .iter()
            .filter(|s| hex::encode(&s.trace_id) == trace)
            .cloned()
            .collect();
        let root = mine
            .iter()
            .find(|s| s.name == "gateway.request")
            .cloned()
            .expect("request span");
        let plugins = mine
            .into_iter()
            .filter(|s| s.name == "gateway.plugin")
            .collect();
        (root, plugins)
    };
    let (root, mut hooks) = of(&ok_id);
    hooks.sort_by_key(|s| s.start_time_unix_nano);
    let seen: Vec<(Option<Any>, Option<Any>, Option<Any>)> = hooks
        .iter()
        .map(|h| {
            (
                attr(h, "ferro.plugin.name"),
                attr(h, "ferro.plugin.stage"),
                attr(h, "ferro.plugin.outcome"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (s("word-filter"), s("before_request"), s("ok")),
            (s("max-token"), s("before_request"), s("ok")),
        ],
        "one span per hook that ran, in order (guardrails have no log hook)"
    );
    for h in &hooks {
        assert_eq!(h.parent_span_id, root.span_id, "child of gateway.request");
        assert_eq!(h.kind, 1, "INTERNAL");
        assert!(h.start_time_unix_nano >= root.start_time_unix_nano);
        assert!(h.end_time_unix_nano <= root.end_time_unix_nano);
    }
    let (_, hooks) = of(&denied_id);
    assert!(
        hooks
            .iter()
            .any(|h| attr(h, "ferro.plugin.name") == s("word-filter")
                && attr(h, "ferro.plugin.stage") == s("before_request")
                && attr(h, "ferro.plugin.outcome") == s("denied")),
        "{hooks:?}"
    );
    assert!(
        !hooks
            .iter()
            .any(|h| attr(h, "ferro.plugin.name") == s("max-token")
                && attr(h, "ferro.plugin.stage") == s("before_request")),
        "the chain stopped at the denial"
    );
}
