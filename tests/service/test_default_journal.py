"""The default journal lives in the data directory, not the working directory, and replays
keep their own: the README tour's ``router simulate`` then ``router serve``, for real."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.service.conftest import TOKENS, TRADE, close_body
from tests.service.processes import ROUTER, Router, read_line, stop


@contextmanager
def _serving(cwd: Path, env: dict[str, str]) -> Iterator[tuple[Router, str]]:
    """``router serve --scenario calm`` without ``--db``, started in ``cwd``."""
    log = cwd / "serve.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*ROUTER, "serve", "--scenario", "calm", "--port", "0"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = read_line(process, process.stdout, log)
        yield Router(line.split()[3]), line.rstrip()
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text(encoding="utf-8")[-3000:]


def _router(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROUTER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.timeout(600)
def test_serve_finds_its_closes_from_anywhere_and_never_sees_replays(tmp_path: Path) -> None:
    data = tmp_path / "data" / "router"
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_JOURNAL_URL"}
    env.update(ROUTER_DATA_DIR=str(data), ROUTER_API_TOKENS=TOKENS, COLUMNS="200")
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()

    replay = _router("simulate", "--json", "--no-progress", cwd=here, env=env)
    assert replay.returncode == 0, replay.stderr[-3000:]
    replayed = json.loads(replay.stdout)
    assert (data / "replays.db").is_file()
    assert not (data / "journal.db").exists()

    with _serving(here, env) as (router, line):
        assert line.endswith(f"(calm), journal sqlite+aiosqlite:///{data / 'journal.db'}")
        assert router.call("GET", "/v1/hedges")["hedges"] == []
        with pytest.raises(urllib.error.HTTPError) as unknown:
            router.call("GET", f"/v1/closes/{replayed['close_id']}")
        assert unknown.value.code == 404
        body = close_body(quantity="0.5", idempotency_key="journal-home-1")
        close_id = router.call("POST", "/v1/closes", TRADE, body)["close_id"]
        assert router.finished(close_id)["outcome"] == "FLAT"

    with _serving(elsewhere, env) as (router, _):
        assert router.call("GET", f"/v1/closes/{close_id}")["idempotency_key"] == "journal-home-1"

    assert sorted(p.name for p in here.iterdir()) == ["serve.log"]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["serve.log"]

    audited = _router("audit", replayed["close_id"], "--replays", "--json", cwd=elsewhere, env=env)
    assert audited.returncode == 0, audited.stderr
    assert json.loads(audited.stdout)["close"]["outcome"] == replayed["outcome"]
    missing = _router("audit", replayed["close_id"], cwd=elsewhere, env=env)
    assert missing.returncode == 2
    assert "--replays" in missing.stderr
