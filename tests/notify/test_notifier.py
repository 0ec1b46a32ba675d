"""Notifications to the trader's phone: engine events → Telegram, Discord and ntfy fakes.

The fills come from a real paper engine (tests/kit/paper.py); the APIs are loopback
fakes that check each API's own shape (tests/kit/fake_notify.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.kit.clock import FakeClock
from tests.kit.engine_proc import run_cli
from tests.kit.fake_notify import (
    APIS,
    BOT_TOKEN,
    CHAT_ID,
    NTFY_TOKEN,
    TOPIC,
    WEBHOOK_TOKEN,
    FakeNotify,
    Seen,
)
from tests.kit.memkeyring import MemoryKeyring
from tests.kit.paper import SECRET, PaperDesk, paper_settings
from tvdesk.config import keystore as ks
from tvdesk.config.keystore import Keystore
from tvdesk.config.schema import NOTIFY_EVENTS, NotifySettings, Settings, default_settings_text
from tvdesk.core.events import KillSwitchChanged, OrderFilled
from tvdesk.notify.check import send_test
from tvdesk.notify.notifier import Notifier
from tvdesk.notify.senders import Endpoints
from tvdesk.support.bus import EventBus

FILL_LINE = "tvdesk PAPER: filled buy 0.01 BTC/USDT @ 64,250.5 on binance"


@pytest.fixture
async def fake() -> AsyncIterator[FakeNotify]:
    api = FakeNotify(ntfy_token=NTFY_TOKEN)
    await api.start()
    yield api
    await api.stop()


def settings_with(events: list[str] | None = None) -> Settings:
    settings = paper_settings()
    notify = NotifySettings(
        events=list(NOTIFY_EVENTS if events is None else events),
        telegram_chat_id=CHAT_ID,
        discord=True,
        ntfy_topic=TOPIC,
    )
    paper = replace(settings.paper, slippage_bps=Decimal(0))  # fills at the alert's price
    return replace(settings, notify=notify, paper=paper)


def store_tokens(keystore: Keystore, fake: FakeNotify) -> None:
    keystore.set(ks.TELEGRAM_BOT_TOKEN, BOT_TOKEN)
    keystore.set(ks.DISCORD_WEBHOOK_URL, fake.discord_url)
    keystore.set(ks.NTFY_TOKEN, NTFY_TOKEN)


def quick(fake: FakeNotify, **kw: Any) -> dict[str, Any]:
    """The public APIs replaced by the fake, and retries without long waits."""
    return {"endpoints": Endpoints(fake.url, fake.url), "backoff_s": (0.01, 0.02), **kw}


@contextlib.asynccontextmanager
async def notified_desk(
    tmp_path: Path, fake: FakeNotify, settings: Settings | None = None
) -> AsyncIterator[PaperDesk]:
    desk = PaperDesk(tmp_path / "data", settings or settings_with())
    store_tokens(desk.keystore, fake)
    notifier = Notifier(lambda: desk.engine.settings, desk.keystore, desk.clock, **quick(fake))
    desk.bus.subscribe(notifier.on_event)
    notifier.start()
    try:
        async with desk:
            yield desk
    finally:
        await notifier.stop()


async def test_a_paper_fill_reaches_each_channel_with_its_chat_and_topic(
    tmp_path: Path, fake: FakeNotify
) -> None:
    async with notified_desk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.01", price="64250.5")
        assert decided.outcome == "filled"
        for api in APIS:
            assert await fake.wait_delivered(api, 1) == [FILL_LINE]
        # Nothing else was said about that alert (accepted, submitted, decided): the next
        # line each channel gets is the kill switch's.
        desk.engine.set_kill_switch(True, "stopped by hand")
        for api in APIS:
            lines = await fake.wait_delivered(api, 2)
            assert lines == [
                FILL_LINE,
                "tvdesk PAPER: kill switch ON (no new orders): stopped by hand",
            ]
    telegram = [seen for seen in fake.requests if seen.api == "telegram"]
    assert {seen.detail["chat_id"] for seen in telegram} == {CHAT_ID}
    ntfy = [seen for seen in fake.requests if seen.api == "ntfy"]
    assert {seen.detail["topic"] for seen in ntfy} == {TOPIC}
    assert {seen.detail["authorization"] for seen in ntfy} == {f"Bearer {NTFY_TOKEN}"}
    discord = [seen for seen in fake.requests if seen.api == "discord"]
    assert discord[0].detail["allowed_mentions"] == {"parse": []}  # no @everyone from alerts


async def test_an_event_not_chosen_in_settings_is_not_sent(
    tmp_path: Path, fake: FakeNotify
) -> None:
    settings = settings_with(["rejected", "kill_switch"])
    settings = replace(settings, risk=replace(settings.risk, max_qty=Decimal("0.5")))
    async with notified_desk(tmp_path, fake, settings) as desk:
        assert (await desk.trade(qty="0.01", price="64250.5")).outcome == "filled"
        refused = await desk.trade(qty="2", price="64250.5")
        assert refused.outcome == "rejected"
        desk.engine.set_kill_switch(True, "stopped by hand")
        lines = await fake.wait_delivered("telegram", 2)
    # In order: the fill came first and was never sent.
    assert lines[0].startswith("tvdesk PAPER: buy 2 ") and "refused: " in lines[0]
    assert refused.reason in lines[0]
    assert lines[1].startswith("tvdesk PAPER: kill switch ON")
    assert not any("filled" in line for api in APIS for line in fake.delivered[api])


async def test_a_hanging_then_failing_api_delays_neither_the_next_alert_nor_the_others(
    tmp_path: Path, fake: FakeNotify
) -> None:
    fake.hang("telegram")
    fake.fail("ntfy", 500, times=2)
    async with notified_desk(tmp_path, fake) as desk:
        assert (await desk.trade(qty="0.01", price="64250.5")).outcome == "filled"
        await fake.holding["telegram"].wait()  # Telegram holds the first line, unanswered
        second = await desk.trade(qty="0.015", price="64250.5")
        assert second.outcome == "filled"  # decided while Telegram still holds the first
        assert fake.delivered["telegram"] == []
        discord = await fake.wait_delivered("discord", 2)  # Discord did not wait either
        fake.release("telegram", 500)  # the held request fails: Telegram is retried
        assert await fake.wait_delivered("telegram", 2) == discord
        assert await fake.wait_delivered("ntfy", 2) == discord
    assert fake.attempts("telegram", discord[0]) == 2
    assert fake.attempts("ntfy", discord[0]) == 3  # two 500s, then delivered
    assert discord[1] == FILL_LINE.replace("0.01", "0.015")


def bare_notifier(
    fake: FakeNotify, clock: FakeClock, settings: Settings | None = None, **kw: object
) -> tuple[EventBus, Notifier, Keystore]:
    keystore = Keystore("tvdesk/notify-test", env={}, backend=MemoryKeyring())
    keystore.set(ks.WEBHOOK_SECRET, SECRET)
    store_tokens(keystore, fake)
    chosen = settings or settings_with()
    notifier = Notifier(lambda: chosen, keystore, clock, **quick(fake, **kw))
    bus = EventBus()
    bus.subscribe(notifier.on_event)
    notifier.start()
    return bus, notifier, keystore


def fill(clock: FakeClock, n: int) -> OrderFilled:
    return OrderFilled(
        clock.time(), f"a{n}", f"c{n}", "BTC/USDT", "buy", "0.01", "50000", "0", "paper"
    )


async def test_a_flood_collapses_into_one_line_but_the_kill_switch_gets_through(
    fake: FakeNotify,
) -> None:
    clock = FakeClock()
    bus, notifier, _ = bare_notifier(fake, clock, per_minute=3, tick_s=0.01)
    for n in range(40):
        bus.publish(fill(clock, n))
    bus.publish(KillSwitchChanged(clock.time(), True, "daily loss limit reached: -120 USDT"))
    lines = await fake.wait_delivered("ntfy", 4)
    assert lines[:3] == ["tvdesk PAPER: filled buy 0.01 BTC/USDT @ 50,000"] * 3
    assert lines[3] == (
        "tvdesk PAPER: kill switch ON (no new orders): daily loss limit reached: -120 USDT"
    )
    clock.advance(61)  # a minute later, the summary of what was held back
    lines = await fake.wait_delivered("ntfy", 5)
    assert lines[4].startswith("tvdesk: … and 37 more notifications in the last minute")
    await notifier.stop()
    assert fake.delivered["telegram"] == fake.delivered["discord"] == lines


async def test_tokens_never_reach_logs_lines_or_errors(
    fake: FakeNotify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    bus, notifier, keystore = bare_notifier(fake, clock, retries=1)
    keystore.set(ks.DISCORD_WEBHOOK_URL, fake.discord_url.replace(WEBHOOK_TOKEN, "wrongToken_x9"))
    fake.fail("telegram", 500, times=100)
    leaky = f"someone pasted {BOT_TOKEN} and {SECRET} and {NTFY_TOKEN}"

    def later_for_the_fourth_line(seen: Seen) -> None:
        # Telegram's 7th request is the 4th line's first attempt: lines 1-3 are settled.
        if sum(1 for r in fake.requests if r.api == "telegram") == 7:
            clock.advance(301)

    fake.on_request = later_for_the_fourth_line
    for _ in range(3):
        bus.publish(KillSwitchChanged(clock.time(), True, leaky))
    bus.publish(KillSwitchChanged(clock.time(), False, "resumed"))
    delivered = await fake.wait_delivered("ntfy", 4)
    await notifier.stop()
    assert (
        delivered[0]
        == "tvdesk PAPER: kill switch ON (no new orders): someone pasted *** and *** and ***"
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    telegram = [w for w in warnings if w.startswith("Telegram notification not sent")]
    # Once per interval: the first failure, then one line for the three after it.
    assert telegram == [
        "Telegram notification not sent: 127.0.0.1 answered 500: Oops",
        "Telegram notification not sent: 127.0.0.1 answered 500: Oops "
        "(2 more not sent since the last report)",
    ]
    assert any("answered 404: Unknown Webhook (check discord_webhook_url" in w for w in warnings)
    # And the test command's words for a channel that cannot be reached.
    keystore.set(ks.DISCORD_WEBHOOK_URL, f"http://127.0.0.1:9/api/webhooks/1/{WEBHOOK_TOKEN}")
    outcomes = await send_test(settings_with().notify, keystore, Endpoints(fake.url, fake.url))
    said = [str(o) for o in outcomes]
    assert said[1] == "Discord: NOT sent — cannot reach 127.0.0.1 (ClientConnectorError)"
    seen = caplog.text + "".join(said) + "".join(delivered)
    seen += "".join(repr(r.exc_info) for r in caplog.records)
    for secret in (BOT_TOKEN, WEBHOOK_TOKEN, "wrongToken_x9", NTFY_TOKEN, SECRET):
        assert secret not in seen


def write_settings(data: Path, *old_new: str) -> None:
    """The default settings.toml with each ``old`` text replaced by the ``new`` after it."""
    data.mkdir(parents=True, exist_ok=True)
    text = default_settings_text()
    for old, new in zip(old_new[::2], old_new[1::2], strict=True):
        assert old in text
        text = text.replace(old, new)
    (data / "settings.toml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            'events = ["fill", ',
            'events = ["fills", ',
            'notify.events[1] "fills" is not an event tvdesk notifies about: use any of '
            '"fill", "rejected", "tunnel_down", "kill_switch", "daily_loss"',
        ),
        (
            'telegram_chat_id = ""',
            'telegram_chat_id = "my chat"',
            "notify.telegram_chat_id must be",
        ),
        ('ntfy_topic = ""', 'ntfy_topic = "a/b"', "notify.ntfy_topic must be empty or a topic"),
        ("discord = false", 'discord_token = "abc"', "notify.discord_token looks like a secret"),
    ],
)
def test_settings_refuse_what_notify_cannot_use(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    from tvdesk.config.load import SettingsError, load_settings

    write_settings(tmp_path, old, new)
    with pytest.raises(SettingsError) as refused:
        load_settings(tmp_path / "settings.toml")
    assert said in str(refused.value)


def test_the_default_settings_file_says_what_notify_does(tmp_path: Path) -> None:
    from tvdesk.config.load import load_settings

    write_settings(tmp_path, "[notify]", "[notify]")
    assert load_settings(tmp_path / "settings.toml").notify == NotifySettings()


def test_notify_test_prints_what_each_channel_did(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_settings(
        data,
        'telegram_chat_id = ""',
        f'telegram_chat_id = "{CHAT_ID}"',
        "discord = false",
        "discord = true",
    )
    fake = FakeNotify()
    with fake.in_thread():
        env = {"TVDESK_DISCORD_WEBHOOK_URL": fake.discord_url}
        done = run_cli("notify-test", "--data-dir", str(data), env=env)
        assert fake.wait_delivered_sync("discord", 1)[0].startswith("tvdesk: test notification")
    assert done.returncode == 1, done.stderr  # Telegram could not be tried
    assert done.stdout.splitlines() == [
        "Telegram: NOT sent — telegram_chat_id is set in settings.toml but no "
        "telegram_bot_token is stored: store it in the keyring (docs/notify.md) or set "
        "TVDESK_TELEGRAM_BOT_TOKEN",
        "Discord: sent",
        "ntfy: not set up — set ntfy_topic in [notify]",
    ]
    assert fake.discord_url not in done.stdout + done.stderr
