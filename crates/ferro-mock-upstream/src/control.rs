//! `/__mock/*` control routes: inspect recordings and stats, drive faults.
//! These are never counted, recorded, delayed or faulted.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Response, StatusCode};

use crate::body::MockBody;
use crate::faults::{parse_command, FaultCommand};
use crate::openai::error_envelope;
use crate::server::Shared;
use crate::util::Out;

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<MockBody> {
    let mut resp = Response::new(MockBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

const OK: &str = r#"{"ok":true}"#;

pub(crate) fn handle(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Response<MockBody> {
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/__mock/requests") => json(StatusCode::OK, shared.recorder.to_json()),
        (&Method::DELETE, "/__mock/requests") => {
            shared.recorder.clear();
            json(StatusCode::OK, OK)
        }
        (&Method::GET, "/__mock/stats") => {
            let mut o = Out::with_capacity(96);
            o.raw(r#"{"hits":"#)
                .num(shared.recorder.hits() as u64)
                .raw(r#","active_streams":"#)
                .num(shared.streams.active.load(Ordering::Acquire) as u64)
                .raw(r#","cancelled_streams":"#)
                .num(shared.streams.cancelled.load(Ordering::Acquire) as u64)
                .raw("}");
            json(StatusCode::OK, o.into_bytes())
        }
        (&Method::POST, "/__mock/fault") => match parse_command(body) {
            Ok(FaultCommand::Clear) => {
                shared.faults.clear();
                json(StatusCode::OK, OK)
            }
            Ok(FaultCommand::Set(f)) => {
                shared.faults.set(f);
                json(StatusCode::OK, OK)
            }
            Ok(FaultCommand::Push(f)) => {
                shared.faults.push(f);
                json(StatusCode::OK, OK)
            }
            Err(msg) => json(
                StatusCode::BAD_REQUEST,
                error_envelope(&msg, "invalid_request_error"),
            ),
        },
        _ => json(
            StatusCode::NOT_FOUND,
            error_envelope("unknown mock control route", "invalid_request_error"),
        ),
    }
}
