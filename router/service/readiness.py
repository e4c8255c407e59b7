"""Which venues answer now: readiness counts the loaded venues that answered recently.

Every request to a venue goes through its adapter, which notes when the venue last
answered and its last failure (:class:`~router.venues.health.AnswerLog`). A venue is
*answering* when it answered within ``within_s`` seconds and nothing failed since. A
quiet service asks its venues nothing, so readiness asks itself: a loaded venue nobody
asked anything for ``probe_after_s`` seconds is probed (one cheap request, at most
``probe_timeout_s`` seconds; concurrent checks share one probe per venue), which also
bounds the probes to one every ``probe_after_s`` seconds per venue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.venues.adapter import VenueAdapter

log = logging.getLogger(__name__)

AGE_PLACES = Decimal("0.001")


def age_text(seconds: float | None) -> Decimal | None:
    """An age in seconds as the API states it (a decimal to the millisecond), or ``None``."""
    return None if seconds is None else Decimal(repr(seconds)).quantize(AGE_PLACES)


@dataclass
class Readiness:
    within_s: float = 30.0
    """How recent a venue's last answer must be for the venue to count as answering."""
    probe_after_s: float = 5.0
    """A loaded venue asked nothing for this long is probed by the next check."""
    probe_timeout_s: float = 2.0
    """How long a probe waits for the venue's answer."""
    _probes: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def check(self, adapters: Mapping[str, VenueAdapter]) -> dict[str, dict[str, Any]]:
        """Each venue's readiness (``answering`` and what it rests on), probing the loaded
        venues nobody asked anything for ``probe_after_s`` seconds."""
        probes = [self._probe(a) for a in adapters.values() if self._due(a)]
        if probes:
            await asyncio.gather(*probes)
        return {name: self.describe(adapter) for name, adapter in adapters.items()}

    def describe(self, adapter: VenueAdapter) -> dict[str, Any]:
        answers = adapter.answers
        return {
            "loaded": adapter.loaded,
            "answering": adapter.loaded and answers.answering(self.within_s),
            "last_answer_age_s": age_text(answers.answer_age()),
            "last_error": answers.last_error,
            "last_error_age_s": age_text(answers.error_age()),
        }

    def _due(self, adapter: VenueAdapter) -> bool:
        if not adapter.loaded:
            return False
        age = adapter.answers.contact_age()
        return age is None or age >= self.probe_after_s or adapter.name in self._probes

    async def _probe(self, adapter: VenueAdapter) -> None:
        """Probe ``adapter`` (or wait for the probe already under way)."""
        task = self._probes.get(adapter.name)
        if task is None:
            task = asyncio.create_task(self._ask(adapter), name=f"probe {adapter.name}")
            self._probes[adapter.name] = task
            task.add_done_callback(lambda _: self._probes.pop(adapter.name, None))
        await asyncio.wait([task])

    async def _ask(self, adapter: VenueAdapter) -> None:
        try:
            await asyncio.wait_for(adapter.probe(), self.probe_timeout_s)
        except TimeoutError:
            adapter.answers.failed(
                f"{adapter.name}: no answer to a probe within {self.probe_timeout_s:g} s"
            )
        except Exception as exc:
            # the adapter noted the failure; the readiness answer names it
            log.info("readiness probe of %s failed: %s", adapter.name, exc)

    async def close(self) -> None:
        """Stop the probes under way."""
        tasks = list(self._probes.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
