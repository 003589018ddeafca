"""Session fixtures: a mock OpenAI upstream and a ferrogw gateway in front of it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
CATALOG_PATH = REPO / "crates" / "ferro-types" / "data" / "model-catalog.json"
MASTER_KEY = "mk-compat-0123456789abcdef"
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Gateway:
    """Where the gateway under test listens and the key that opens it."""

    url: str
    key: str
    log: Path


def _bin_dir() -> Path:
    env = os.environ.get("FERRO_BIN_DIR")
    return Path(env) if env else REPO / "target" / "debug"


def _binary(name: str) -> Path:
    path = _bin_dir() / name
    if not path.is_file():
        pytest.fail(f"{path} not found: run `cargo build -p ferrogw -p ferro-mock-upstream`")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait(ready: Callable[[], bool], proc: subprocess.Popen, what: str, log: Path) -> None:
    """Poll until `ready()` holds; fail with the log tail if the process dies or times out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    pytest.fail(f"{what} not ready (exit={proc.poll()}); log {log}:\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "RUST_LOG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["RUST_BACKTRACE"] = "1"
    return env


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    """Start mock upstream + ferrogw, wait for /health, stop both at the end."""
    work = tmp_path_factory.mktemp("ferro-compat")
    data_dir = work / "data"
    data_dir.mkdir()

    mock_port = _free_port()
    mock_log = work / "mock.log"
    mock = _start(
        [str(_binary("ferro-mock-upstream")), "--addr", f"127.0.0.1:{mock_port}", "--no-record"],
        _base_env(),
        work,
        mock_log,
    )
    gw = None
    try:
        _wait(lambda: _tcp_open(mock_port), mock, "ferro-mock-upstream", mock_log)

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        gw_log = work / "ferrogw.log"
        env = _base_env() | {
            "PORT": str(port),
            "MASTER_KEY": MASTER_KEY,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{mock_port}",
            "FERRO_DATA_DIR": str(data_dir),
        }
        gw = _start([str(_binary("ferrogw"))], env, work, gw_log)
        _wait(lambda: _health_ok(url), gw, "ferrogw", gw_log)
        yield Gateway(url=url, key=MASTER_KEY, log=gw_log)
    finally:
        if gw is not None:
            _stop(gw)
        _stop(mock)


@pytest.fixture(scope="session")
def catalog() -> dict:
    """The embedded model catalog, read from the repo."""
    return json.loads(CATALOG_PATH.read_text())


@pytest.fixture(scope="session")
def catalog_cost(catalog: dict) -> Callable[..., float]:
    """cost_usd the catalog implies for `model` (an openai id) and the returned token counts."""

    def cost(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        pricing = catalog[f"openai/{model}"]["pricing"]
        cache_price = pricing.get("cache_read_per_m_tokens")
        total = completion_tokens * (pricing.get("output_per_m_tokens") or 0.0)
        if cached_tokens and cache_price is not None:
            total += (prompt_tokens - cached_tokens) * pricing["input_per_m_tokens"]
            total += cached_tokens * cache_price
        else:
            total += prompt_tokens * pricing["input_per_m_tokens"]
        return total / 1e6

    return cost
