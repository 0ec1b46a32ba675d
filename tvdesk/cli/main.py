"""The command line: parses the arguments and hands them to the command's module.

Starts the window (cli.window) or the headless engine (cli.headless), the self-test, or
one of the small tools (export, send-test, status/kill/resume). Headless mode never
imports Qt (nor ccxt): a server without a display must be able to run tvdesk. The
commands import what they need inside their functions, so ``tvdesk --help`` and the
window start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tvdesk import __version__
from tvdesk.cli.control import cmd_control
from tvdesk.cli.export import cmd_export
from tvdesk.cli.headless import cmd_run
from tvdesk.cli.send_test import cmd_send_test
from tvdesk.cli.window import cmd_window
from tvdesk.support import timing

DEFAULT_TEST_SYMBOL = "BINANCE:BTCUSDT"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="TradingView alerts to exchange orders, from your own PC.",
    )
    parser.add_argument("--version", action="version", version=f"tvdesk {__version__}")
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="run one signed alert end to end in a temporary data dir, then exit 0 or 1",
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="print start-up figures (window shown, engine ready) to stderr",
    )
    _add_data_dir(parser)
    parser.add_argument("--port", type=_port, help="listener port (default 8787; 0 = any free)")
    parser.add_argument("--host", help="listener address (default 127.0.0.1)")
    parser.add_argument("--no-tunnel", action="store_true", help="don't start the ngrok tunnel")
    parser.add_argument("--mode", choices=("paper", "live"), help="paper (default) or live")
    parser.add_argument("--exchange", help="ccxt id of the default exchange (default binance)")
    parser.add_argument(
        "--exchange-url", help="send the exchange's REST calls to this URL (proxy, simulator)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    export = commands.add_parser("export", help="print the journal: one record per alert")
    _add_data_dir(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")

    send = commands.add_parser("send-test", help="sign and send a test alert")
    _add_data_dir(send)
    send.add_argument("--url", help="webhook URL (default: the running engine's)")
    send.add_argument("--fill", action="store_true", help="a real paper alert instead of a dry run")
    send.add_argument("--symbol", default=DEFAULT_TEST_SYMBOL)
    send.add_argument("--side", default="buy", choices=("buy", "sell"))
    send.add_argument("--qty", default="0.001")
    send.add_argument("--price", help="price for the alert (paper fills need one)")

    status = commands.add_parser("status", help="state of the running engine")
    _add_data_dir(status)
    kill = commands.add_parser("kill", help="turn the kill switch on: no new orders")
    _add_data_dir(kill)
    kill.add_argument("--flatten", action="store_true", help="and close tvdesk's positions")
    resume = commands.add_parser("resume", help="turn the kill switch off")
    _add_data_dir(resume)
    return parser


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="keep settings, journal and logs in DIR instead of the usual places",
    )


def _port(text: str) -> int:
    # Digits 0-9 only: int() also reads "８７８７", "٨٧٨٧", " 80_80" and "+80".
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number: write it in ASCII digits 0-9, like 8787"
        )
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return value


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given == ["--tunnel-guard"]:  # a frozen tvdesk guarding its ngrok agent (tunnel_guard)
        from tvdesk.tunnel.guard import main as guard

        return guard()
    args = build_parser().parse_args(argv)
    if args.timing:
        timing.enable()
    data_dir: Path | None = getattr(args, "data_dir", None)
    if args.command == "export":
        return cmd_export(data_dir, args.format, args.output)
    if args.command == "send-test":
        return cmd_send_test(data_dir, args)
    if args.command in ("status", "kill", "resume"):
        return cmd_control(data_dir, args)
    if args.self_test:
        from tvdesk.engine.selftest import run_self_test
        from tvdesk.gui.probe import QtProbe

        return run_self_test(QtProbe())
    if not args.headless:
        return cmd_window(data_dir, args)
    return cmd_run(data_dir, args)
