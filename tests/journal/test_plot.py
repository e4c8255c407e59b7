"""The picture of a close: the PNG file, its three panels, and ``router audit --plot``.

The close is the one of the audit tests (see ``test_audit``): sell 3.5 BTCUSDT at a
reference of 30000, 3.0 sold on alpha and beta over tiers 0 and 1, 0.5 hedged on alpha's
perpetual, an outage on beta.
"""

from __future__ import annotations

import asyncio
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from sqlalchemy.ext.asyncio import AsyncEngine

from router.cli.plot import UnknownClose, close_figure, plot_close
from router.journal.db import make_engine
from router.journal.migrate import ensure_schema
from router.journal.timeline import close_timeline
from tests.journal.test_audit import CLOSE_ID, _router, build_close

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _legend(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_plot_close_writes_a_png(engine: AsyncEngine, tmp_path: Path) -> None:
    await build_close(engine)
    target = tmp_path / "pictures" / "close.png"

    written = await plot_close(engine, CLOSE_ID, target)

    assert written == target
    data = target.read_bytes()
    width, height = _png_size(data)
    assert 1000 <= width <= 2500
    assert 700 <= height <= 2000
    assert 30_000 < len(data) < 3_000_000


async def test_plot_of_an_unknown_close_fails(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(UnknownClose):
        await plot_close(engine, "cl_nope", tmp_path / "nope.png")
    assert not (tmp_path / "nope.png").exists()


async def test_the_figure_shows_prices_quantities_and_tiers(engine: AsyncEngine) -> None:
    await build_close(engine)
    timeline = await close_timeline(engine, CLOSE_ID)
    assert timeline is not None

    figure = close_figure(timeline)

    assert len(figure.axes) == 3
    price, quantity, tiers = figure.axes
    title = figure.get_suptitle()
    assert CLOSE_ID in title
    assert "HEDGED" in title
    for part in ("requested 3.5", "filled 3", "hedged 0.5", "residual 0", "slippage 20 bps"):
        assert part in title

    prices = _legend(price)
    for venue in ("alpha", "beta"):
        assert f"{venue} spot best bid" in prices
    assert "alpha fills (2)" in prices
    assert "beta fills (1)" in prices
    assert "alpha hedge fills (0.5)" in prices
    assert "arrival reference 30000" in prices
    assert "order limit (tier cap)" in prices
    assert price.get_ylabel() == "price (quote)"

    quantities = _legend(quantity)
    assert quantities[:2] == ["spot filled (3)", "hedged (0.5)"]
    assert "requested (3.5)" in quantities
    assert quantity.get_ylim()[1] >= 3.5

    assert [label.get_text() for label in tiers.get_yticklabels()] == ["hedge", "tier 0", "tier 1"]
    assert "outage (beta)" in _legend(tiers)
    assert tiers.get_xlabel() == "time (UTC, 2024-08-05)"


# ------------------------------------------------------------------ command line


@pytest.fixture(scope="module")
def journal_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite journal file holding the audit tests' close; its URL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('plot-cli')}/journal.db"

    async def build() -> None:
        engine = make_engine(url)
        try:
            await ensure_schema(engine)
            await build_close(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, build()).result()
    return url


def test_cli_audit_draws_the_picture(journal_file: str, tmp_path: Path) -> None:
    done = _router(
        "audit", CLOSE_ID, "--json", "--plot", "out/close.png", "--db", journal_file, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    assert '"outcome": "HEDGED"' in done.stdout
    assert "out/close.png" in done.stderr
    _png_size((tmp_path / "out" / "close.png").read_bytes())


def test_cli_audit_plot_of_an_unknown_close_fails(journal_file: str, tmp_path: Path) -> None:
    done = _router("audit", "cl_nope", "--plot", "x.png", "--db", journal_file, cwd=tmp_path)

    assert done.returncode == 2
    assert "no close 'cl_nope'" in done.stderr
    assert not (tmp_path / "x.png").exists()
