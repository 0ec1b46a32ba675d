"""``tvdesk --self-test``: the backend checks and the alert, one line either way."""

from __future__ import annotations

import re

from tvdesk import __version__
from tvdesk.engine import selftest
from tvdesk.gui.probe import QtProbe


def test_self_test_passes_and_says_what_it_proved(capsys):
    assert selftest.run_self_test(QtProbe()) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("self-test ok (")
    assert f"): tvdesk {__version__}, Qt " in out
    for proof in ("keyring: ", "pyngrok ", "ccxt ", "binance", "alert filled"):
        assert proof in out
    assert "headless" not in out
    assert len(out.splitlines()) == 1


def test_headless_self_test_proves_the_rest_without_the_window(capsys):
    assert selftest.run_self_test(None) == 0
    out = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"self-test ok \(\d+ ms\): tvdesk {re.escape(__version__)}, headless, keyring: .*, "
        r"pyngrok .*, ccxt .* binance, one signed alert filled on paper",
        out,
    )
    assert "Qt " not in out


def test_headless_failures_are_named_too(monkeypatch, capsys):
    def no_pyngrok() -> str:
        raise ModuleNotFoundError("No module named 'pyngrok'")

    monkeypatch.setattr(selftest, "_check_pyngrok", no_pyngrok)
    assert selftest.run_self_test(None) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "self-test FAILED: pyngrok: ModuleNotFoundError: No module named 'pyngrok'"
    )


def test_each_failure_is_named_on_one_line(monkeypatch, capsys):
    def no_pyngrok() -> str:
        raise ModuleNotFoundError("No module named 'pyngrok'")

    async def broken_ccxt(exchange_id: str) -> str:
        raise selftest.SelfTestFailed(f"ccxt has no exchange {exchange_id!r}")

    monkeypatch.setattr(selftest, "_check_pyngrok", no_pyngrok)
    monkeypatch.setattr(selftest, "_check_ccxt", broken_ccxt)
    assert selftest.run_self_test(QtProbe()) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines == [
        "self-test FAILED: pyngrok: ModuleNotFoundError: No module named 'pyngrok'; "
        "ccxt (binance): ccxt has no exchange 'binance'"
    ]


def test_a_missing_keyring_backend_is_reported(monkeypatch, capsys):
    nowhere = dict.fromkeys(("linux", "win32", "darwin"), "Nowhere")
    monkeypatch.setattr(selftest, "NATIVE_KEYRING", nowhere)
    assert selftest.run_self_test(QtProbe()) == 1
    err = capsys.readouterr().err
    assert "keyring: the Nowhere backend is not registered" in err


def test_an_alert_that_never_decides_times_out(monkeypatch, capsys):
    async def never() -> str:
        import asyncio

        await asyncio.Event().wait()
        return ""

    monkeypatch.setattr(selftest, "_alert_end_to_end", never)
    monkeypatch.setattr(selftest, "TIMEOUT_S", 1.0)
    assert selftest.run_self_test(QtProbe()) == 1
    assert "the alert: no outcome within" in capsys.readouterr().err


def test_the_command_prints_ok_and_exits_0():
    from tests.kit.engine_proc import run_cli

    result = run_cli("--self-test", timeout=60)

    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert re.fullmatch(
        rf"self-test ok \(\d+ ms\): tvdesk {re.escape(__version__)}, Qt .*"
        "one signed alert filled on paper",
        line,
    )
