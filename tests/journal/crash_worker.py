"""A router-like process for crash tests: it journals, acts, and waits to be killed.

    python -m tests.journal.crash_worker URL MODE WORKDIR

Modes:
  after-intent  record a close and one order intent, then stop before sending
  after-send    ... mark it sent and place it on the (file) venue, then stop before the ack
  owner         ... own the close with a 2 s lease renewed every 0.2 s, forever
  taker         wait for an orphaned close, claim it, recover it and finish it
Each mode writes WORKDIR/<mode>.ready when it reached the point where it waits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from router.engine.recovery import recover
from router.journal.db import make_engine
from router.journal.records import AttemptIntent, NewClose
from router.journal.repository import Journal
from tests.journal.file_venue import FileVenue

LEASE = timedelta(seconds=2)
CLIENT_ID = "close-1-w1-alpha"


async def _start(url: str, owner: str) -> tuple[Journal, str]:
    journal = Journal(make_engine(url), owner=owner)
    close, _ = await journal.create_close(
        NewClose("crash-test", "BTCUSDT", "sell", Decimal(1), {"quantity": "1"}, lease=LEASE)
    )
    await journal.record_intent(
        AttemptIntent(
            CLIENT_ID,
            close.id,
            1,
            0,
            "alpha",
            "spot",
            "BTCUSDT",
            "sell",
            Decimal(1),
            Decimal("19000"),
        )
    )
    return journal, close.id


async def main(url: str, mode: str, workdir: Path) -> None:
    venue = FileVenue(workdir / "venue.jsonl")
    ready = workdir / f"{mode}.ready"
    if mode == "taker":
        journal = Journal(make_engine(url), owner="taker")
        refused = 0
        while True:
            report = await recover(journal, venue, lease=LEASE)
            if report.closes:
                result = report.closes[0]
                await journal.finish_close(
                    result.close.id,
                    "FLAT",
                    filled_qty=result.filled_qty,
                    hedged_qty=Decimal(0),
                    residual_qty=result.remaining,
                    reason="taken over",
                )
                ready.write_text(json.dumps({"close_id": result.close.id, "refused": refused}))
                await journal.close()
                return
            refused += len(report.skipped)
            await asyncio.sleep(0.1)
    journal, close_id = await _start(url, owner=mode)
    if mode in ("after-send", "owner"):
        await journal.mark_sent(CLIENT_ID)
        venue.place(CLIENT_ID, Decimal(1), [Decimal("0.4"), Decimal("0.6")])
    ready.write_text(close_id)
    while True:
        if mode == "owner":
            await journal.claim(close_id, LEASE)
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
