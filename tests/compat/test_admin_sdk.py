"""The `ferrolabsai` 0.3.0 admin namespace, unchanged, against a running ferrogw.

Keys (create, list, retrieve, update incl. suspend/resume, revoke, rotate, delete,
usage), config (get, update, create, history, rollback, delete), logs (list, stats,
delete), providers, plugins, audit, dashboard and health. The gateway is shared with
the other compat tests, so every change made here is undone before the test ends.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from ferrolabsai import FerroAPIError, FerroAuthError, FerroClient, FerroNotFoundError
from ferrolabsai.types import APIKey, ConfigHistoryEntry, CreatedAPIKey, GatewayConfig


@pytest.fixture(scope="module")
def ferro(gateway) -> FerroClient:
    with FerroClient(api_key=gateway.key, base_url=gateway.url, max_retries=0) as c:
        yield c


def _client(gateway, key: str) -> FerroClient:
    return FerroClient(api_key=key, base_url=gateway.url, max_retries=0)


def _poll(fn, within: float = 1.5):
    deadline = time.monotonic() + within
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_keys_lifecycle(ferro, gateway):
    created = ferro.admin.keys.create(name="sdk-key", scopes=["read_only"])
    assert isinstance(created, CreatedAPIKey)
    assert created.key.startswith("fgw_") and len(created.key) == 68
    assert created.scopes == ["read_only"] and created.active

    listed = {k.id: k for k in ferro.admin.keys.list()}
    assert isinstance(listed[created.id], APIKey)
    masked = listed[created.id].key
    assert masked == f"{created.key[:8]}...{created.key[-4:]}"

    got = ferro.admin.keys.retrieve(created.id)
    assert got.name == "sdk-key" and got.usage_count == 0

    # the key works for inference; its use is counted within a second
    with _client(gateway, created.key) as user:
        user.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert _poll(lambda: ferro.admin.keys.retrieve(created.id).usage_count == 1)
    assert ferro.admin.keys.retrieve(created.id).last_used_at

    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    updated = ferro.admin.keys.update(created.id, name="sdk-renamed", expires_at=expires.isoformat())
    assert updated.name == "sdk-renamed"
    assert updated.expires_at == expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    # ★9 suspend / resume
    assert ferro.admin.keys.update(created.id, active=False).active is False
    with _client(gateway, created.key) as user, pytest.raises(FerroAuthError):
        user.admin.keys.list()
    assert ferro.admin.keys.update(created.id, active=True).active is True

    rotated = ferro.admin.keys.rotate(created.id)
    assert isinstance(rotated, CreatedAPIKey) and rotated.id == created.id
    assert rotated.key != created.key
    with _client(gateway, created.key) as old, pytest.raises(FerroAuthError):
        old.admin.keys.list()
    with _client(gateway, rotated.key) as new:
        assert any(k.id == created.id for k in new.admin.keys.list())

    usage = ferro.admin.keys.usage(limit=5, sort="usage")
    assert usage["summary"]["total_keys"] >= 1
    assert usage["filters"]["limit"] == 5
    assert any(k["id"] == created.id for k in usage["data"])

    assert ferro.admin.keys.revoke(created.id) is None
    assert ferro.admin.keys.retrieve(created.id).revoked_at
    assert ferro.admin.keys.delete(created.id) is None
    with pytest.raises(FerroNotFoundError):
        ferro.admin.keys.retrieve(created.id)

    with pytest.raises(FerroAPIError) as bad:
        ferro.admin.keys.create(name="x", scopes=["superuser"])
    assert bad.value.status_code == 400 and bad.value.code == "invalid_scope"


def test_last_admin_guard_and_read_only_scope(ferro, gateway):
    admin = ferro.admin.keys.create(name="sdk-only-admin", scopes=["admin"])
    try:
        with pytest.raises(FerroAPIError) as guard:
            ferro.admin.keys.revoke(admin.id)
        assert guard.value.status_code == 409 and guard.value.code == "last_admin_key"
        viewer = ferro.admin.keys.create(name="sdk-viewer")
        with _client(gateway, viewer.key) as ro:
            assert ro.admin.dashboard()["keys"]["total"] >= 2
            with pytest.raises(FerroAPIError) as denied:
                ro.admin.keys.create(name="nope")
            assert denied.value.status_code == 403 and denied.value.code == "insufficient_scope"
        ferro.admin.keys.delete(viewer.id)
    finally:
        # a second admin first, so the guard lets the first go
        spare = ferro.admin.keys.create(name="sdk-spare", scopes=["admin"])
        ferro.admin.keys.delete(admin.id)
        # the spare is now the last admin key and stays (revoking it is refused)
        assert ferro.admin.keys.retrieve(spare.id).scopes == ["admin"]


def test_config_update_history_rollback(ferro):
    base = ferro.admin.config.get()
    assert isinstance(base, GatewayConfig)
    assert base.targets and base.raw["apiVersion"] == "v1"
    before = len(ferro.admin.config.history())
    try:
        cfg = {"targets": [{"virtual_key": "openai"}], "aliases": {"sdk-fast": "gpt-4o-mini"}}
        assert ferro.admin.config.update(cfg) == {"status": "updated"}
        assert ferro.admin.config.get().aliases == {"sdk-fast": "gpt-4o-mini"}
        resp = ferro.chat.completions.create(model="sdk-fast", messages=[{"role": "user", "content": "alias"}])
        assert resp.model == "gpt-4o-mini"

        cfg2 = {"targets": [{"virtual_key": "openai"}], "aliases": {"sdk-fast": "gpt-4o"}}
        assert ferro.admin.config.create(cfg2) == {"status": "created"}
        history = ferro.admin.config.history()
        assert len(history) == before + 2
        assert all(isinstance(h, ConfigHistoryEntry) for h in history)
        first = history[before]
        assert first.config.aliases == {"sdk-fast": "gpt-4o-mini"}

        rb = ferro.admin.config.rollback(first.version)
        assert rb["status"] == "rolled_back" and rb["rolled_back_to"] == first.version
        assert ferro.admin.config.history()[-1].rolled_back_from == first.version + 1
        assert ferro.admin.config.get().aliases == {"sdk-fast": "gpt-4o-mini"}

        with pytest.raises(FerroNotFoundError):
            ferro.admin.config.rollback(10_000)
        with pytest.raises(FerroAPIError) as bad:
            ferro.admin.config.update({"targets": [{"virtual_key": "openai"}], "nonsense": True})
        assert bad.value.status_code == 400 and bad.value.code == "invalid_config"
        scrubbed = ferro.admin.config.get().raw
        scrubbed["aliases"] = {"k": "[REDACTED]"}
        with pytest.raises(FerroAPIError) as red:
            ferro.admin.config.update(scrubbed)
        assert red.value.code == "redacted_secret"
    finally:
        assert ferro.admin.config.delete() == {"status": "deleted"}
    assert ferro.admin.config.get().aliases == {}


def test_logs_list_stats_delete(ferro):
    resp = ferro.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "log me"}])
    trace = resp.trace_id

    def row():
        data = ferro.admin.logs.list(limit=200)["data"]
        return next((r for r in data if r["trace_id"] == trace), None)

    r = _poll(row)
    assert r, "row visible within 1 s"
    assert r["status"] == 200 and r["route"] == "chat" and r["provider"] == "openai"
    assert r["stage"] == "after_request" and r["stream"] is False and r["cache_hit"] is False
    assert r["api_key_id"].startswith("master-key:")
    assert r["total_tokens"] == resp.usage.total_tokens

    listed = ferro.admin.logs.list(limit=5, provider="openai", model="gpt-4o-mini")
    assert listed["summary"]["returned_entries"] <= 5 and listed["filters"]["provider"] == "openai"
    stats = ferro.admin.logs.stats(buckets=4, limit=3)
    assert stats["summary"]["total_entries"] >= 1
    assert stats["latency_ms"]["count"] >= 1
    assert len(stats["series"]["points"]) == 4
    assert "openai" in stats["by_provider"]

    gone = ferro.admin.logs.delete(before="2001-01-01T00:00:00Z")
    assert gone["deleted"] == 0 and gone["filters"]["before"] == "2001-01-01T00:00:00Z"
    with pytest.raises(FerroAPIError) as bad:
        ferro.admin.logs.delete()
    assert bad.value.status_code == 400


def test_providers_plugins_audit_dashboard_health(ferro):
    providers = ferro.admin.providers.list()
    assert [p["name"] for p in providers] == ["openai"]
    assert providers[0]["models"] and providers[0]["models"][0]["object"] == "model"
    catalog = ferro.admin.providers.catalog()
    assert len(catalog) == 30
    assert next(p for p in catalog if p["id"] == "openai")["registered"] is True

    assert ferro.admin.plugins.list() == []
    plugins = ferro.admin.plugins.catalog()
    assert len(plugins) == 11
    assert {p["name"] for p in plugins} >= {"word-filter", "request-logger", "schema-guard"}

    audit = ferro.admin.audit.list(action="key.create", limit=10)
    assert audit["summary"]["returned_entries"] >= 1
    assert audit["data"][0]["action"] == "key.create"

    dash = ferro.admin.dashboard()
    assert dash["providers"]["total"] == 1 and dash["request_logs"]["enabled"] is True
    health = ferro.admin.health()
    assert health["status"] == "healthy" and health["scopes"] == ["admin"]
    assert {c["name"] for c in health["components"]} == {"API", "Key store", "Config store", "Request logs", "Audit log"}
