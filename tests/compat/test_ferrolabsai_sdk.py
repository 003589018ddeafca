"""The `ferrolabsai` 0.3.0 Python SDK, unchanged, against ferrogw."""

from __future__ import annotations

import re

import httpx
import pytest
from ferrolabsai import (
    ChatCompletionChunk,
    FerroAPIError,
    FerroAuthError,
    FerroClient,
    FerroNotFoundError,
    Stream,
)

HEX32 = re.compile(r"^[0-9a-f]{32}$")
CHAT_MODEL = "gpt-4o-mini"
EMBED_MODEL = "text-embedding-3-small"
TOL = 1e-12


@pytest.fixture(scope="module")
def ferro(gateway) -> FerroClient:
    with FerroClient(api_key=gateway.key, base_url=gateway.url, max_retries=0) as c:
        yield c


@pytest.fixture
def recording(gateway):
    """A FerroClient on an httpx client that records every response (to see raw bodies)."""
    seen: list[httpx.Response] = []
    http = httpx.Client(base_url=gateway.url, timeout=30, event_hooks={"response": [seen.append]})
    with FerroClient(api_key=gateway.key, base_url=gateway.url, max_retries=0, http_client=http) as c:
        yield c, seen


def test_chat_create(recording, catalog_cost):
    """Chat: trace_id, provider, gateway_overhead_ms and catalog-priced usage cost."""
    ferro, seen = recording
    resp = ferro.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "hello ferro sdk"}]
    )
    assert "hello ferro sdk" in resp.content
    assert HEX32.match(resp.trace_id)
    assert resp.provider == "openai"
    assert isinstance(resp.gateway_overhead_ms, float) and resp.gateway_overhead_ms > 0
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0

    (raw,) = seen
    assert raw.headers["x-request-id"] == resp.trace_id
    usage = raw.json()["usage"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    expected = catalog_cost(
        CHAT_MODEL, resp.usage.prompt_tokens, resp.usage.completion_tokens, cached
    )
    assert abs(usage["cost_usd"] - expected) <= TOL
    assert abs(float(raw.headers["x-gateway-cost-usd"]) - expected) <= TOL


def test_chat_stream(ferro):
    """Streaming: chunks carry the stream's trace_id/provider; usage only when asked."""
    stream = ferro.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "ferro stream"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, Stream)
    assert HEX32.match(stream.trace_id)
    assert stream.provider == "openai"
    chunks = list(stream)
    assert chunks and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert all(c.trace_id == stream.trace_id and c.provider == "openai" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "ferro stream" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_chat_stream_without_usage(ferro):
    chunks = list(
        ferro.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "no usage"}], stream=True
        )
    )
    assert "no usage" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks)


def test_embeddings(ferro):
    """Embeddings: float vectors and a trace_id."""
    resp = ferro.embeddings.create(model=EMBED_MODEL, input=["one", "two"])
    assert HEX32.match(resp.trace_id)
    assert len(resp.data) == 2
    assert all(d.embedding and isinstance(d.embedding[0], float) for d in resp.data)
    assert resp.usage is not None and resp.usage.prompt_tokens > 0


def test_probes(ferro):
    """health(), live() and ready() return dicts."""
    health = ferro.health()
    assert health["status"] == "ok"
    assert {"version", "commit", "built"} <= set(health)
    assert any(p["name"] == "openai" for p in health["providers"])
    assert ferro.live() == {"status": "ok"}
    ready = ferro.ready()
    assert isinstance(ready, dict) and ready["status"] == "ready"


def test_models(ferro, catalog):
    """models.list() / retrieve() over GET /v1/models."""
    models = ferro.models.list()
    ids = {m.id for m in models}
    assert {CHAT_MODEL, "gpt-4o", EMBED_MODEL} <= ids
    assert any(m.id == CHAT_MODEL for m in ferro.models.list(provider="openai"))
    info = ferro.models.retrieve("gpt-4o")
    assert info.owned_by == "openai"
    assert info.context_window == catalog["openai/gpt-4o"]["context_window"]
    with pytest.raises(FerroNotFoundError):
        ferro.models.retrieve("no-such-model-xyz")


def test_bad_key_is_auth_error(gateway):
    with FerroClient(api_key="fgw_wrong", base_url=gateway.url, max_retries=0) as bad:
        with pytest.raises(FerroAuthError) as exc:
            bad.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}])
    assert exc.value.status_code == 401
    assert exc.value.code == "invalid_api_key"
    assert HEX32.match(exc.value.request_id)


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_is_not_found(ferro, stream):
    with pytest.raises(FerroNotFoundError) as exc:
        ferro.chat.completions.create(
            model="no-such-model-xyz", messages=[{"role": "user", "content": "x"}], stream=stream
        )
    assert exc.value.status_code == 404
    assert exc.value.code == "model_not_found"
    assert HEX32.match(exc.value.request_id)


def test_bad_request_is_api_error(ferro):
    with pytest.raises(FerroAPIError) as exc:
        ferro.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}], temperature=5
        )
    assert type(exc.value) is FerroAPIError
    assert exc.value.status_code == 400
    assert exc.value.code == "invalid_request"
