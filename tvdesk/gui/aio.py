"""Small asyncio-with-Qt helpers: busy controls and dialogs awaited without nested loops.

A dialog's ``exec()`` would start a nested Qt loop inside a running coroutine; these
open the dialog and await its ``finished`` signal instead, so the engine keeps
answering TradingView while a dialog is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager

import qasync
from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)
_running: set[asyncio.Task[object]] = set()


class QtLoop(qasync.QEventLoop):
    """qasync's loop, minus the extra round of Qt events after ``run_until_complete``.

    qasync processes pending Qt events once more after the loop stopped; asyncio
    callbacks are Qt timer events there, so that would step coroutines with no running
    loop (between test phases, and at exit after the window closed).
    """

    def run_until_complete(self, future: object) -> object:
        task = asyncio.ensure_future(future, loop=self)  # type: ignore[arg-type]
        task.add_done_callback(lambda _: self.stop())
        self.run_forever()
        if not task.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return task.result()


def spawn(coro: Coroutine[object, object, object]) -> asyncio.Task[object]:
    """Run ``coro`` in the background, keeping it alive and logging what it raises."""
    task = asyncio.ensure_future(coro)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[object]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


@asynccontextmanager
async def busy(*widgets: QWidget) -> AsyncIterator[None]:
    """Disable the controls while an action runs; re-enable them whatever happens."""
    for widget in widgets:
        widget.setEnabled(False)
    try:
        yield
    finally:
        for widget in widgets:
            widget.setEnabled(True)


def emitted(signal: SignalInstance) -> asyncio.Future[tuple[object, ...]]:
    """A future for the arguments of the next emission of ``signal`` (connected now)."""
    future: asyncio.Future[tuple[object, ...]] = asyncio.get_running_loop().create_future()

    def fire(*args: object) -> None:
        signal.disconnect(fire)
        if not future.done():
            future.set_result(args)

    signal.connect(fire)
    return future


async def ask(dialog: QDialog) -> int:
    """Show ``dialog`` (window-modal) and return its result code once it is closed."""
    finished = emitted(dialog.finished)
    dialog.open()
    (result,) = await finished
    return int(result)  # type: ignore[call-overload]


async def inform(parent: QWidget | None, title: str, text: str, *, error: bool = False) -> None:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical if error else QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(text)
    box.setObjectName("errorBox" if error else "infoBox")
    await ask(box)
    box.deleteLater()
