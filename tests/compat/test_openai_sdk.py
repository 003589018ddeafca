"""The official `openai` Python SDK, unchanged, against ferrogw."""

from __future__ import annotations

import re

import openai
import pytest
from openai import OpenAI

HEX32 = re.compile(r"^[0-9a-f]{32}$")
CHAT_MODEL = "gpt-4o-mini"
EMBED_MODEL = "text-embedding-3-small"
TOL = 1e-12


@pytest.fixture(scope="module")
def client(gateway) -> OpenAI:
    with OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0) as c:
        yield c


def _usage_cost(catalog_cost, model, usage) -> float:
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    return catalog_cost(model, usage.prompt_tokens, usage.completion_tokens or 0, cached)


def _assert_envelope(err: openai.APIStatusError, status: int, code: str) -> None:
    assert err.status_code == status
    assert err.code == code
    error = err.response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert all(isinstance(v, str) for v in error.values())
    assert HEX32.match(err.response.headers["x-request-id"])


def test_chat_create(client, catalog_cost):
    """Non-streaming chat: echoed content, body extras and catalog-priced cost."""
    resp = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "hello compat"}]
    )
    assert "hello compat" in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    extra = resp.to_dict()
    assert extra["provider"] == "openai"
    assert HEX32.match(extra["trace_id"])
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    usage_extra = resp.usage.model_extra
    assert usage_extra["cache_hit"] is False
    assert abs(usage_extra["cost_usd"] - _usage_cost(catalog_cost, CHAT_MODEL, resp.usage)) <= TOL


def test_chat_raw_response_headers(client, catalog_cost):
    """`with_raw_response`: X-Request-ID equals body trace_id; cost header matches catalog."""
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "headers please"}]
    )
    resp = raw.parse()
    assert raw.headers["x-request-id"] == resp.model_extra["trace_id"]
    assert HEX32.match(raw.headers["x-request-id"])
    assert raw.headers["x-gateway-provider"] == "openai"
    assert float(raw.headers["x-gateway-overhead-ms"]) >= 0
    expected = _usage_cost(catalog_cost, "gpt-4o", resp.usage)
    assert abs(float(raw.headers["x-gateway-cost-usd"]) - expected) <= TOL
    assert abs(resp.usage.model_extra["cost_usd"] - expected) <= TOL


def test_chat_stream_without_usage(client):
    """Streaming chat: deltas concatenate to the reply; no usage chunk unless asked."""
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
    )
    assert HEX32.match(raw.headers["x-request-id"])
    assert raw.headers["x-gateway-provider"] == "openai"
    chunks = list(raw.parse())
    assert chunks, "no chunks streamed"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "stream me" in text
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks), "usage-only chunk sent without include_usage"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_stream_include_usage(client, catalog_cost):
    """`stream_options.include_usage`: the final chunk carries usage with cost_usd."""
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "stream usage"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "stream usage" in text
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    expected = _usage_cost(catalog_cost, CHAT_MODEL, last.usage)
    assert abs(last.usage.model_extra["cost_usd"] - expected) <= TOL


def test_embeddings_default_base64(client, catalog_cost):
    """Default request (SDK asks for base64 and decodes it) yields float vectors."""
    resp = client.embeddings.create(model=EMBED_MODEL, input=["alpha", "beta"])
    assert [d.index for d in resp.data] == [0, 1]
    for d in resp.data:
        assert d.embedding and all(isinstance(x, float) for x in d.embedding)
    assert len(resp.data[0].embedding) == len(resp.data[1].embedding)
    extra = resp.model_extra
    assert HEX32.match(extra["trace_id"])
    assert extra["provider"] == "openai"
    expected = catalog_cost(EMBED_MODEL, resp.usage.prompt_tokens, 0)
    assert abs(resp.usage.model_extra["cost_usd"] - expected) <= TOL


def test_embeddings_float_matches_base64(client):
    """`encoding_format="float"` returns the same vectors as the base64 default."""
    raw = client.embeddings.with_raw_response.create(
        model=EMBED_MODEL, input="alpha", encoding_format="float"
    )
    floats = raw.parse()
    assert raw.headers["x-request-id"] == floats.model_extra["trace_id"]
    vec = floats.data[0].embedding
    assert vec and all(isinstance(x, float) for x in vec)
    b64 = client.embeddings.create(model=EMBED_MODEL, input="alpha").data[0].embedding
    assert len(b64) == len(vec)
    assert all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(b64, vec))


def test_models_list(client):
    """`models.list()` includes the catalog's chat model."""
    ids = {m.id for m in client.models.list()}
    assert CHAT_MODEL in ids
    assert EMBED_MODEL in ids


def test_models_retrieve(client, catalog):
    """`models.retrieve()` is served natively, with catalog pricing."""
    model = client.models.retrieve("gpt-4o")
    assert model.id == "gpt-4o"
    pricing = model.model_extra["pricing"]
    want = catalog["openai/gpt-4o"]["pricing"]
    assert pricing["input_per_m_tokens"] == want["input_per_m_tokens"]
    assert pricing["output_per_m_tokens"] == want["output_per_m_tokens"]
    assert abs(model.model_extra["input_cost_per_token"] - want["input_per_m_tokens"] / 1e6) <= TOL


def test_models_retrieve_unknown(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.models.retrieve("no-such-model-xyz")
    _assert_envelope(exc.value, 404, "model_not_found")


def test_wrong_key_is_authentication_error(gateway):
    bad = OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as exc:
        bad.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}])
    _assert_envelope(exc.value, 401, "invalid_api_key")
    assert exc.value.type == "authentication_error"


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_is_not_found(client, stream):
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(
            model="no-such-model-xyz", messages=[{"role": "user", "content": "x"}], stream=stream
        )
    _assert_envelope(exc.value, 404, "model_not_found")


def test_bad_temperature_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "x"}], temperature=5
        )
    _assert_envelope(exc.value, 400, "invalid_request")
    assert exc.value.type == "invalid_request_error"
