//! Helpers for the built-ins' unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::context::{Ctx, RequestMeta, ResponseView, Surface};
use crate::shared::Shared;
use crate::{Plugin, Stage};
use ferro_types::usage::TokenCounts;
use serde_json::{json, Value};
use std::sync::Arc;

const ALL: [Stage; 2] = [Stage::BeforeRequest, Stage::AfterRequest];

/// Builds `name` listed at both stages, over in-memory state.
pub(crate) fn plugin(name: &str, config: Value) -> Arc<dyn Plugin> {
    plugin_with(name, config, &Shared::local(None))
}

pub(crate) fn plugin_with(name: &str, config: Value, shared: &Shared) -> Arc<dyn Plugin> {
    match super::build(name, &config, "plugins[0].config", &ALL, shared) {
        Ok((p, _)) => p,
        Err(e) => panic!("build {name}: {e:?}"),
    }
}

/// The load errors of `name` with `config`, joined.
pub(crate) fn build_err(name: &str, config: Value) -> String {
    match super::build(
        name,
        &config,
        "plugins[0].config",
        &ALL,
        &Shared::local(None),
    ) {
        Ok(_) => panic!("{name} accepted {config}"),
        Err(e) => e.join("\n"),
    }
}

pub(crate) fn meta(surface: Surface, key: &str) -> RequestMeta {
    RequestMeta {
        trace_id: "trace".into(),
        api_key_id: key.to_owned(),
        surface,
        model: "gpt-4o-mini".to_owned(),
        stream: false,
    }
}

/// A chat request with one user message.
pub(crate) fn chat_ctx(text: &str) -> Ctx {
    ctx_for(json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}))
}

pub(crate) fn ctx_for(body: Value) -> Ctx {
    ctx_as(Surface::Chat, "key-1", body)
}

pub(crate) fn ctx_as(surface: Surface, key: &str, body: Value) -> Ctx {
    let bytes = serde_json::to_vec(&body).unwrap();
    Ctx::new(meta(surface, key), Some(bytes.into()), 1)
}

/// A chat answer with one choice.
pub(crate) fn answer(text: &str) -> ResponseView<'static> {
    let body =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]});
    let bytes: &'static [u8] = Box::leak(serde_json::to_vec(&body).unwrap().into_boxed_slice());
    ResponseView::new(bytes, TokenCounts::default(), false)
}
