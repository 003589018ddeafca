//! SSE streaming over real HTTP: incremental parsing across arbitrary chunk
//! boundaries, `[DONE]`, error frames, malformed frames, idle timeout and the
//! headers copied onto every chunk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::{ChatCompletionChunk, ChatCompletionStream, Error};
use futures_util::StreamExt;
use std::time::Duration;

fn chunk(content: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]})
    )
}

fn body() -> String {
    let role = serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]});
    let usage = serde_json::json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"cost_usd":0.0001}});
    format!(
        "data: {role}\n\n: keep-alive comment\n\n{}{}{}data: {usage}\n\ndata: [DONE]\n\n",
        chunk("Hello"),
        chunk(", wörld"),
        chunk("!")
    )
}

async fn collect(mut s: ChatCompletionStream) -> (Vec<ChatCompletionChunk>, Option<Error>) {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(c) => out.push(c),
            Err(e) => {
                assert!(s.next().await.is_none(), "a stream ends after its error");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

fn text(chunks: &[ChatCompletionChunk]) -> String {
    chunks.iter().filter_map(|c| c.content()).collect()
}

async fn open(reply: Reply) -> (Mock, Result<ChatCompletionStream, Error>) {
    let m = Mock::fixed(
        reply
            .header("x-request-id", TRACE)
            .header("x-gateway-provider", "openai"),
    )
    .await;
    let s = m
        .client()
        .chat()
        .completions()
        .stream(&chat_req().include_usage(true))
        .await;
    (m, s)
}

#[tokio::test]
async fn parses_a_whole_stream() {
    let (m, s) = open(Reply::sse(&body(), usize::MAX, Duration::ZERO)).await;
    let s = s.unwrap();
    assert_eq!(s.trace_id().unwrap(), TRACE);
    assert_eq!(s.provider().unwrap(), "openai");
    let (chunks, err) = collect(s).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(chunks.len(), 5);
    assert_eq!(text(&chunks), "Hello, wörld!");
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    let usage = chunks[4].usage.as_ref().unwrap();
    assert_eq!(usage.total_tokens, 8);
    assert_eq!(usage.cost_usd.as_ref().unwrap().value(), 0.0001);
    for c in &chunks {
        assert_eq!(c.trace_id.as_ref().unwrap(), TRACE);
        assert_eq!(c.provider.as_ref().unwrap(), "openai");
    }
    // The request asked for SSE with stream: true.
    let r = m.last();
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    let sent = r.json();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn chunk_boundaries_do_not_matter() {
    let whole = body();
    for piece in [1, 2, 3, 7, 13, 64] {
        let (_m, s) = open(Reply::sse(&whole, piece, Duration::from_micros(200))).await;
        let (chunks, err) = collect(s.unwrap()).await;
        assert!(err.is_none(), "piece {piece}: {err:?}");
        assert_eq!(text(&chunks), "Hello, wörld!", "piece {piece}");
        assert_eq!(chunks.len(), 5, "piece {piece}");
    }
}

#[tokio::test]
async fn crlf_framing() {
    let crlf = body().replace('\n', "\r\n");
    let (_m, s) = open(Reply::sse(&crlf, 5, Duration::ZERO)).await;
    let (chunks, err) = collect(s.unwrap()).await;
    assert!(err.is_none());
    assert_eq!(text(&chunks), "Hello, wörld!");
}

#[tokio::test]
async fn done_ends_the_stream_and_later_frames_are_ignored() {
    let b = format!("{}data: [DONE]\n\n{}", chunk("a"), chunk("never"));
    let (_m, s) = open(Reply::sse(&b, usize::MAX, Duration::ZERO)).await;
    let (chunks, err) = collect(s.unwrap()).await;
    assert!(err.is_none());
    assert_eq!(text(&chunks), "a");
}

#[tokio::test]
async fn end_of_body_without_done_ends_cleanly() {
    // The last event even lacks its blank line.
    let b = format!(
        "{}data: {}",
        chunk("a"),
        serde_json::json!({"choices":[{"index":0,"delta":{"content":"b"}}]})
    );
    let (_m, s) = open(Reply::sse(&b, 4, Duration::ZERO)).await;
    let (chunks, err) = collect(s.unwrap()).await;
    assert!(err.is_none());
    assert_eq!(text(&chunks), "ab");
}

#[tokio::test]
async fn error_frame_is_a_stream_error() {
    let b = format!(
        "{}data: {{\"error\":{{\"message\":\"upstream went away\",\"type\":\"stream_error\",\"code\":\"stream_error\"}}}}\n\n",
        chunk("partial")
    );
    let (_m, s) = open(Reply::sse(&b, 9, Duration::ZERO)).await;
    let (chunks, err) = collect(s.unwrap()).await;
    assert_eq!(text(&chunks), "partial");
    match err.unwrap() {
        Error::Stream {
            message,
            code,
            request_id,
        } => {
            assert_eq!(message, "upstream went away");
            assert_eq!(code.as_deref(), Some("stream_error"));
            assert_eq!(request_id.unwrap(), TRACE);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn malformed_frames_are_stream_errors() {
    for bad in ["data: {not json\n\n", "data: {\"choices\": 5}\n\n"] {
        let b = format!("{}{bad}{}", chunk("ok"), chunk("unreached"));
        let (_m, s) = open(Reply::sse(&b, usize::MAX, Duration::ZERO)).await;
        let (chunks, err) = collect(s.unwrap()).await;
        assert_eq!(text(&chunks), "ok");
        let e = err.unwrap();
        assert!(matches!(e, Error::Stream { code: None, .. }), "{e:?}");
        assert_eq!(e.request_id().unwrap(), TRACE);
    }
}

#[tokio::test]
async fn echoed_key_in_error_frame_is_redacted() {
    let b =
        format!("data: {{\"error\":{{\"message\":\"bad {KEY}\",\"code\":\"stream_error\"}}}}\n\n");
    let (_m, s) = open(Reply::sse(&b, usize::MAX, Duration::ZERO)).await;
    let (_, err) = collect(s.unwrap()).await;
    let shown = format!("{:?}", err.unwrap());
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn non_2xx_is_returned_before_streaming() {
    let (_m, s) = open(Reply::json(
        401,
        serde_json::json!({"error":{"message":"invalid key","code":"invalid_api_key"}}),
    ))
    .await;
    let e = s.unwrap_err();
    assert!(matches!(e, Error::Auth(_)));
    assert_eq!(e.request_id().unwrap(), TRACE);
}

#[tokio::test]
async fn idle_stream_times_out() {
    let r = Reply::sse(&chunk("first"), usize::MAX, Duration::ZERO)
        .then(Duration::from_secs(5), chunk("too late"));
    let m = Mock::fixed(r).await;
    let c = m
        .builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let s = c.chat().completions().stream(&chat_req()).await.unwrap();
    let t = std::time::Instant::now();
    let (chunks, err) = collect(s).await;
    assert_eq!(text(&chunks), "first");
    assert!(
        matches!(err, Some(Error::Connection { timeout: true, .. })),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    // An endless stream: the client reads one chunk and drops it.
    let mut r = Reply::sse(&chunk("x"), usize::MAX, Duration::ZERO);
    for _ in 0..200 {
        r = r.then(Duration::from_millis(20), chunk("x"));
    }
    let m = Mock::fixed(r).await;
    let c = m.client();
    let mut s = c.chat().completions().stream(&chat_req()).await.unwrap();
    assert!(s.next().await.unwrap().is_ok());
    drop(s);
    // The client can carry on with a new request at once.
    let mut s = c.chat().completions().stream(&chat_req()).await.unwrap();
    assert!(s.next().await.unwrap().is_ok());
    assert_eq!(m.hits(), 2);
}
