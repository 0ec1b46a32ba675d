"""Log panel: a burst arrives whole, filters, details with the trail, replay, CSV, paging."""

from __future__ import annotations

import asyncio
import csv

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.gui.helpers import (
    close_window,
    decided_row,
    find_box,
    open_window,
    post_alert,
    type_into,
    until,
)
from tests.kit.paper import SECRET, paper_settings

BURST = 2000


async def test_a_2000_alert_burst_appears_without_losing_rows(window, session):
    model = window.log_panel.model
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> str:
        async with gate:
            reply = await post_alert(session, window, qty="0.0001", client_ref=f"burst-{i}")
            return reply["alert_id"]

    ids = await asyncio.gather(*(one(i) for i in range(BURST)))
    assert len(set(ids)) == BURST

    def all_decided() -> bool:
        rows = model.rows()
        return len(rows) == BURST and all(r.outcome != "pending" for r in rows)

    await until(all_decided, timeout=60, what="every burst alert decided in the log")
    assert {r.alert_id for r in model.rows()} == set(ids)
    scroll = window.log_panel.view.verticalScrollBar()
    assert scroll.value() == scroll.maximum()  # pinned to the newest row
    outcomes = {r.outcome for r in model.rows()}
    assert outcomes <= {"filled", "rejected"} and "filled" in outcomes


async def test_filters_and_details_show_the_trail_and_the_redacted_alert(window, session, qtbot):
    filled = await post_alert(session, window, symbol="BINANCE:BTCUSDT", secret=SECRET)
    rejected = await post_alert(session, window, symbol="BINANCE:ETHUSDT", qty="10", price="3000")
    await decided_row(window, filled["alert_id"])
    await decided_row(window, rejected["alert_id"])
    panel = window.log_panel

    panel.outcome.setCurrentText("rejected")
    assert panel.proxy.rowCount() == 1
    panel.outcome.setCurrentIndex(0)
    qtbot.keyClicks(panel.symbol, "eth")
    assert panel.proxy.rowCount() == 1
    panel.symbol.clear()
    qtbot.keyClicks(panel.text, "notional")
    assert panel.proxy.rowCount() == 1
    panel.text.clear()
    assert panel.proxy.rowCount() == 2

    panel.view.selectRow(1)
    await until(lambda: "Decision trail" in panel.details.toPlainText(), what="the details")
    details = panel.details.toPlainText()
    assert rejected["alert_id"] in details and "✗ risk" in details and " ms " in details
    assert '"symbol": "BINANCE:ETHUSDT"' in details
    panel.view.selectRow(0)
    await until(lambda: filled["alert_id"] in panel.details.toPlainText(), what="the details")
    assert SECRET not in panel.details.toPlainText()
    assert "Order tvd" in panel.details.toPlainText()


async def test_a_rejected_alert_replays_after_the_limit_is_fixed(window, session, qtbot):
    rejected = await post_alert(session, window, qty="0.1", price="50000")  # 5,000 > 1,000
    assert (await decided_row(window, rejected["alert_id"])).outcome == "rejected"
    panel = window.log_panel
    panel.view.selectRow(0)
    await until(lambda: panel.replay.isEnabled(), what="replay to be offered")

    risk = window.risk_panel
    type_into(qtbot, risk.inputs["max_notional"], "0")  # 0: no limit
    qtbot.mouseClick(risk.apply, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().risk.max_notional == 0, what="the new limit")
    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
    await until(lambda: "Replayed as" in panel.details.toPlainText(), what="the replay")
    new_id = panel.details.toPlainText().split("Replayed as ")[1].split(":")[0]
    row = await decided_row(window, new_id)
    assert row.client == "replay" and row.outcome == "filled"
    record = await window.handle.call(lambda e: e.queries.alert(new_id))
    assert record["replay_of"] == rejected["alert_id"]
    assert any(step["step"] == "replay" for step in record["trail"])
    assert "notional" not in (record["reason"] or "")


async def test_a_replay_in_live_mode_asks_first_and_cancel_sends_nothing(window, session, qtbot):
    rejected = await post_alert(session, window, qty="0.1", price="50000")  # over max_notional
    await decided_row(window, rejected["alert_id"])
    panel = window.log_panel
    panel.view.selectRow(0)
    await until(lambda: panel.replay.isEnabled(), what="replay to be offered")
    await window.handle.call(lambda e: e.set_mode("live"))
    try:
        qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
        await until(
            lambda: (
                (box := window.findChild(QMessageBox, "replayLiveBox")) is not None
                and box.isVisible()
            ),
            what="the live replay question",
        )
        box = window.findChild(QMessageBox, "replayLiveBox")
        assert "REAL order to binance: buy 0.1 BINANCE:BTCUSDT" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        await until(lambda: "Replay cancelled" in panel.details.toPlainText(), what="cancel")
        alerts = await window.handle.call(lambda e: e.queries.alerts_page())
        assert [a["alert_id"] for a in alerts] == [rejected["alert_id"]]  # nothing new
    finally:
        await window.handle.call(lambda e: e.set_mode("paper"))


async def replays_of(window, alert_id: str) -> list[str]:
    alerts = await window.handle.call(lambda e: e.queries.alerts_page())
    return [a["alert_id"] for a in alerts if a["replay_of"] == alert_id]


async def a_rejected_alert_selected(window, session) -> str:
    rejected = await post_alert(session, window, qty="0.1", price="50000")  # over max_notional
    await decided_row(window, rejected["alert_id"])
    window.log_panel.view.selectRow(0)
    await until(lambda: window.log_panel.replay.isEnabled(), what="replay to be offered")
    return rejected["alert_id"]


async def test_two_quick_clicks_make_one_replay(window, session, qtbot, monkeypatch):
    alert_id = await a_rejected_alert_selected(window, session)
    panel = window.log_panel
    engine = window.handle._engine
    real_replay = engine.replay
    calls = {"started": 0, "done": 0}

    async def counted(*args, **kwargs):  # the real replay, counted
        calls["started"] += 1
        try:
            return await real_replay(*args, **kwargs)
        finally:
            calls["done"] += 1

    monkeypatch.setattr(engine, "replay", counted)
    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)  # before the first one ran
    await until(lambda: "Replayed as" in panel.details.toPlainText(), what="the replay")
    await until(lambda: calls["started"] == calls["done"], what="every replay to finish")
    assert calls["started"] == 1
    assert panel.details.toPlainText().count("Replayed as") == 1
    assert len(await replays_of(window, alert_id)) == 1


async def test_a_second_replay_asks_and_no_makes_none(window, session, qtbot):
    alert_id = await a_rejected_alert_selected(window, session)
    panel = window.log_panel
    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
    await until(lambda: "Replayed as" in panel.details.toPlainText(), what="the replay")
    (first,) = await replays_of(window, alert_id)
    await until(lambda: panel.replay.isEnabled(), what="replay to be offered again")

    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
    box = await until(lambda: find_box("replayAgainBox"), what="the replay-again question")
    assert box.text() == f"alert {alert_id} was already replayed as {first}: replay it again?"
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    assert not panel.replay.isEnabled()  # no second question stacked behind this one
    box.button(QMessageBox.StandardButton.No).click()
    await until(lambda: "Replay cancelled" in panel.details.toPlainText(), what="the answer")
    assert await replays_of(window, alert_id) == [first]

    await until(lambda: panel.replay.isEnabled(), what="replay to be offered again")
    qtbot.mouseClick(panel.replay, Qt.MouseButton.LeftButton)
    box = await until(lambda: find_box("replayAgainBox"), what="the question again")
    box.button(QMessageBox.StandardButton.Yes).click()
    await until(
        lambda: panel.details.toPlainText().count("Replayed as") == 2, what="the second replay"
    )
    assert len(await replays_of(window, alert_id)) == 2


async def test_export_csv_writes_the_rows_shown(window, session, tmp_path):
    for _ in range(3):
        await decided_row(window, (await post_alert(session, window))["alert_id"])
    out = tmp_path / "log.csv"
    assert window.log_panel.write_csv(out) == 3
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["Outcome"] for r in rows] == ["filled"] * 3
    assert all(r["alert_id"] and r["Latency"].endswith(" ms") for r in rows)


async def test_older_rows_are_paged_in_from_the_journal(tmp_path, session, memory_keyring):
    data = tmp_path / "data"
    first = await open_window(data, paper_settings())
    try:
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with gate:
                await post_alert(session, first, test=True, client_ref=f"old-{i}")

        await asyncio.gather(*(one(i) for i in range(650)))
        await until(lambda: first.log_panel.model.rowCount() == 650, what="650 rows")
    finally:
        await close_window(first)

    second = await open_window(data, paper_settings())  # the lock was released on quit
    try:
        model = second.log_panel.model
        assert model.rowCount() == 500 and model.has_older
        second.log_panel.view.verticalScrollBar().setValue(0)  # the trader scrolls to the top
        await until(lambda: model.rowCount() == 650, what="the older rows")
        assert not model.has_older
    finally:
        await close_window(second)
