"""The daily loss limit's kill switch: lifted at the next UTC day, also across a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.load import load_settings
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings
from tvdesk.core.events import Event, KillSwitchChanged

D = Decimal
DAY = 86_400


class ShiftedClock:
    """The system clock, moved forward on demand (a test's way to reach midnight)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def to_next_utc_day(self) -> None:
        now = self.time()
        self.offset += (now // DAY + 1) * DAY - now + 5  # 00:00:05 UTC tomorrow


def limited() -> Settings:
    return paper_settings(daily_loss_limit=D("50"))


def restarted(data_dir: Path, clock: ShiftedClock) -> PaperDesk:
    """The engine started again on the same data dir, with the settings.toml it left."""
    settings = load_settings(resolve_paths(data_dir).settings_file)
    assert settings.listener.port == 0 and settings.risk.daily_loss_limit == D("50")
    return PaperDesk(data_dir, settings, clock)


async def trip(desk: PaperDesk) -> None:
    await desk.trade(side="buy", qty="0.01", price="50000")
    await desk.trade(side="sell", qty="0.01", price="40000")  # about -100 USDT
    assert desk.engine.settings.risk.kill_switch is True


async def until(desk: PaperDesk, seen: Callable[[Event], bool], timeout: float = 10.0) -> Event:
    async with asyncio.timeout(timeout):
        while True:
            for event in desk.events:
                if seen(event):
                    return event
            desk._changed.clear()
            await desk._changed.wait()


def lifted(event: Event) -> bool:
    return isinstance(event, KillSwitchChanged) and not event.on


async def test_a_trip_survives_a_restart_the_same_day_and_lifts_at_midnight(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, limited(), clock) as desk:
        await trip(desk)
    async with restarted(tmp_path, clock) as desk:
        assert desk.engine.settings.risk.kill_switch is True
        refused = await desk.trade(side="buy", qty="0.001", price="40000")
        assert refused.outcome == "rejected" and "kill switch" in refused.reason
        clock.to_next_utc_day()
        # No alert needed: the engine notices midnight by itself.
        event = await until(desk, lifted)
        assert isinstance(event, KillSwitchChanged)
        assert event.reason == "a new UTC day: the daily loss limit starts again"
        assert desk.engine.settings.risk.kill_switch is False
        filled = await desk.trade(side="buy", qty="0.001", price="40000")
        assert filled.outcome == "filled", filled.reason


async def test_a_trip_from_yesterday_is_lifted_when_tvdesk_starts_today(tmp_path: Path) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, limited(), clock) as desk:
        await trip(desk)
    clock.to_next_utc_day()
    async with restarted(tmp_path, clock) as desk:
        assert desk.engine.settings.risk.kill_switch is False
        filled = await desk.trade(side="buy", qty="0.001", price="40000")
        assert filled.outcome == "filled", filled.reason


async def test_a_kill_switch_the_trader_turned_on_is_never_lifted_at_midnight(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, limited(), clock) as desk:
        await trip(desk)
        desk.engine.set_kill_switch(True, "kill from the window")
    clock.to_next_utc_day()
    async with restarted(tmp_path, clock) as desk:
        assert desk.engine.settings.risk.kill_switch is True
        refused = await desk.trade(side="buy", qty="0.001", price="40000")
        assert refused.outcome == "rejected" and "kill switch" in refused.reason


async def test_a_kill_switch_turned_on_again_in_settings_toml_is_never_lifted_at_midnight(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, limited(), clock) as desk:
        await trip(desk)
        toml = desk.paths.settings_file
        for on, off in (("true", "false"), ("false", "true")):  # off, then on again
            toml.write_text(toml.read_text().replace(f"kill_switch = {on}", f"kill_switch = {off}"))
            assert desk.engine.reload_settings(), "settings.toml edit not noticed"
            assert desk.engine.settings.risk.kill_switch is (off == "true")
    clock.to_next_utc_day()
    async with restarted(tmp_path, clock) as desk:
        assert desk.engine.settings.risk.kill_switch is True


async def test_the_first_alert_of_a_new_day_trades_when_the_trip_lifts(tmp_path: Path) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, limited(), clock) as desk:
        await trip(desk)
        clock.to_next_utc_day()
        # Sent at once: the alert itself must see the new day, not wait for the engine's
        # once-a-second look at the clock.
        filled = await desk.trade(side="buy", qty="0.001", price="40000")
        assert filled.outcome == "filled", filled.reason
        assert desk.engine.settings.risk.kill_switch is False


async def test_the_trip_holds_even_when_settings_toml_cannot_be_written(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, limited()) as desk:
        toml = desk.paths.settings_file
        toml.unlink(missing_ok=True)
        toml.mkdir()  # in the file's place: every save fails, as on a full or broken disk
        await trip(desk)  # asserts the kill switch is on
        refused = await desk.trade(side="buy", qty="0.001", price="40000")
        assert refused.outcome == "rejected" and "kill switch" in refused.reason
        # The worker lives on: later alerts are still decided.
        assert (await desk.trade(side="buy", qty="0.001", price="40000")).outcome == "rejected"


async def test_losses_in_different_quote_currencies_are_never_added_together(
    tmp_path: Path,
) -> None:
    settings = limited()
    settings = replace(
        settings, paper=replace(settings.paper, balances={"USDT": D("100000"), "BTC": D("100")})
    )
    async with PaperDesk(tmp_path, settings) as desk:
        await desk.trade(symbol="BINANCE:ETHBTC", qty="1000", price="0.05")
        await desk.trade(symbol="BINANCE:ETHBTC", side="sell", qty="1000", price="0.03")  # -20 BTC
        await desk.trade(qty="0.01", price="50000")
        await desk.trade(side="sell", qty="0.01", price="46000")  # about -41 USDT
        assert desk.engine.settings.risk.kill_switch is False  # neither reaches 50 on its own
        await desk.trade(qty="0.01", price="50000")
        await desk.trade(side="sell", qty="0.01", price="46000")  # USDT now about -82
        assert desk.engine.settings.risk.kill_switch is True
        (trip,) = [e for e in desk.events if isinstance(e, KillSwitchChanged) and e.on]
        assert " USDT (paper) is at or below -50.00" in trip.reason


async def test_todays_pnl_is_shown_per_mode(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        await desk.trade(qty="0.01", price="50000")
        await desk.trade(side="sell", qty="0.01", price="49000")  # a paper loss
        now = desk.clock.time()
        paper = await desk.engine.queries.today(now, "paper")
        live = await desk.engine.queries.today(now, "live")
        assert D(paper["realized_pnl"]) < 0 and paper["fills"] == 2
        assert (D(live["realized_pnl"]), live["fills"]) == (0, 0)
