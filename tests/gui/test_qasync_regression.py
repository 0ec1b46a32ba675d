"""PySide6 6.12.0 on Python 3.11 kills a qasync loop after a few thousand callbacks.

Each timer qasync stops (``QObject.killTimer``) drops one reference to ``None``;
once ``None``'s count reaches zero the interpreter aborts with "Fatal Python error:
none_dealloc". 6.9-6.11 run clean, hence the pin in pyproject.toml. This runs well
more callbacks than ``None`` has references, in a child process (an abort must not
take pytest with it), through the same kinds of loop work the window does: bare
callbacks, timers that fire and timers cancelled before they fire.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    rounds = 2 * sys.getrefcount(None)  # with the bug, None runs out half-way through

    async def work():
        before = sys.getrefcount(None)
        loop = asyncio.get_running_loop()
        for i in range(rounds):
            await asyncio.sleep(0)                      # call_soon
            if i % 10 == 0:
                loop.call_later(0.0001, lambda: None)   # a timer that fires
                loop.call_later(60, lambda: None).cancel()  # one cancelled
        await asyncio.sleep(0.01)
        return rounds, sys.getrefcount(None) - before

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        rounds, change = runner.run(work())
    print(rounds, change)
    """
)


def test_thousands_of_qasync_callbacks_leave_none_alone():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60
    )
    assert child.returncode == 0, f"the qasync loop died: {child.stderr[-2000:]}"
    rounds, change = (int(word) for word in child.stdout.split())
    assert rounds > 5000
    # Unaffected builds move None's count by a few dozen at most; the bug takes one per callback.
    assert change > -rounds // 10, f"None lost {-change} references over {rounds} callbacks"
