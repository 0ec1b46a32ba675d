"""An outcome that could not be recorded while other markets' orders were in flight: the
alert it belongs to is the one settled from the exchange (found, not decided anew), so a
kill switch turned on meanwhile cannot record a filled order as refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.kit.burst import burst_settings, fake_options
from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk, until
from tvdesk.store.errors import JournalError

PATIENT = replace(FAST, request_timeout_s=30.0)


def alert_of(fn: Any) -> str | None:
    """The alert id of the worker's ``record`` transaction (its closure holds the job)."""
    for cell in fn.__closure__ or ():
        alert_id = getattr(cell.cell_contents, "alert_id", None)
        if isinstance(alert_id, str) and hasattr(cell.cell_contents, "origin"):
            return alert_id
    return None


async def test_the_unrecorded_alert_is_settled_even_when_another_order_was_sent_after_it(
    tmp_path: Path,
):
    async with FakeBinance(**fake_options()) as fake:
        fake.hold = asyncio.Event()
        async with LiveDesk(tmp_path, fake, burst_settings(fake.url), tuning=PATIENT) as desk:
            journal = desk.engine.journal
            write = journal.run
            first: list[str] = []
            failed: list[str] = []

            async def disk_full_for_the_first(fn, **kw):
                recording = getattr(fn, "__name__", "") == "record"
                if recording and first and not failed and alert_of(fn) == first[0]:
                    failed.append(first[0])
                    # Halted now: the order already filled must still be recorded as
                    # filled, never decided anew (and refused) by the switch.
                    desk.engine.set_kill_switch(True, "kill from a test")
                    raise JournalError("the journal could not commit: disk full (test)")
                return await write(fn, **kw)

            journal.run = disk_full_for_the_first  # type: ignore[method-assign]
            _, a = await desk.post(symbol="BINANCE:BTCUSDT", side="buy", qty="0.001", price="50000")
            first.append(a["alert_id"])
            await until(desk, lambda: fake.in_flight == 1)
            # A second market's order is sent while the first is still at the exchange.
            _, b = await desk.post(symbol="BINANCE:ETHUSDT", side="buy", qty="0.01", price="3000")
            await until(desk, lambda: fake.in_flight == 2)
            fake.hold.set()
            decided_a = await desk.outcome(a["alert_id"])
            decided_b = await desk.outcome(b["alert_id"])

        assert failed == [a["alert_id"]], "the record never failed: the test tested nothing"
        assert (decided_a.outcome, decided_b.outcome) == ("filled", "filled")
        cid = f"tvd{a['alert_id']}"
        assert fake.placed(cid) == 1 and fake.placed(f"tvd{b['alert_id']}") == 1
        trail = [t["detail"] for t in desk.export()[a["alert_id"]]["trail"]]
        assert f"found {cid} at binance" in trail, trail
