"""The command line: parses the arguments and hands them to the command's module.

Starts the window (cli.window) or the headless engine (cli.headless), the self-test, or
one of the small tools (export, send-test, notify-test, status/kill/resume). Headless mode
never imports Qt (nor ccxt): a server without a display must be able to run tvdesk. The
commands import what they need inside their functions, so ``tvdesk --help`` and the
window start fast.

Every command ends with a code from one table (tvdesk.support.exits, README "Exit
codes"); a reader that closes the pipe (``tvdesk export | head -1``) or Ctrl+C ends it
quietly, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tvdesk import __version__
from tvdesk.cli.common import LOG_LEVELS, LogOptions, fail
from tvdesk.cli.control import cmd_control
from tvdesk.cli.export import cmd_export
from tvdesk.cli.headless import cmd_run
from tvdesk.cli.notify_test import cmd_notify_test
from tvdesk.cli.send_test import cmd_send_test
from tvdesk.cli.window import cmd_window
from tvdesk.support import exits, timing

DEFAULT_TEST_SYMBOL = "BTCUSDT"  # plain: the default exchange trades it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="TradingView alerts to exchange orders, from your own PC.",
        epilog="exit codes:\n"
        + "\n".join(f"  {code:<4} {meaning}" for code, meaning in exits.TABLE.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"tvdesk {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log: debug lines too"
    )
    parser.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        help="how much the engine logs: debug, info (default), warning or error",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="write the log to PATH instead of logs/tvdesk.log in the data folder",
    )
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="run one signed alert end to end in a temporary data dir, then exit 0 or 1"
        " (with --headless: without Qt, for a server)",
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

    notify = commands.add_parser(
        "notify-test", help="send a test notification to each channel set up in [notify]"
    )
    _add_data_dir(notify)

    status = commands.add_parser("status", help="state of the running engine")
    kill = commands.add_parser("kill", help="turn the kill switch on: no new orders")
    kill.add_argument("--flatten", action="store_true", help="and close tvdesk's positions")
    resume = commands.add_parser("resume", help="turn the kill switch off")
    for control in (status, kill, resume):
        _add_data_dir(control)
        control.add_argument(
            "--json", action="store_true", help="the engine's reply as JSON, for scripts"
        )
    return parser


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="keep settings, journal and logs in DIR instead of the usual places",
    )


def _log_level(text: str) -> int:
    try:
        return LOG_LEVELS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
        ) from None


def log_options(args: argparse.Namespace) -> LogOptions:
    """--log-level wins over -v; -v alone means debug."""
    if args.log_level is not None:
        level = args.log_level
    else:
        level = logging.DEBUG if args.verbose else logging.INFO
    return LogOptions(level=level, file=args.log_file)


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
    try:
        args = build_parser().parse_args(argv)
        code = _dispatch(args)
        if sys.stdout is not None:  # None in a windowed Windows build
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _drop_stdout()
        return exits.PIPE_CLOSED
    except KeyboardInterrupt:
        print(file=sys.stderr)  # after the ^C the terminal shows
        return exits.INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    if args.timing:
        timing.enable()
    data_dir: Path | None = getattr(args, "data_dir", None)
    if args.command == "export":
        return cmd_export(data_dir, args.format, args.output)
    if args.command == "send-test":
        return cmd_send_test(data_dir, args)
    if args.command == "notify-test":
        return cmd_notify_test(data_dir)
    if args.command in ("status", "kill", "resume"):
        return cmd_control(data_dir, args)
    if args.self_test:
        from tvdesk.engine.selftest import run_self_test

        if args.headless:  # a server without Qt: nothing here may import it
            return run_self_test(None)
        from tvdesk.gui.probe import QtProbe

        return run_self_test(QtProbe())
    logs = log_options(args)
    problem = logs.problem()
    if problem:
        return fail(problem)
    if not args.headless:
        return cmd_window(data_dir, args, logs)
    return cmd_run(data_dir, args, logs)


def _drop_stdout() -> None:
    """Point stdout at the null device: Python flushes it once more at exit, and that
    write to the closed pipe would print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an embedding host)
        pass
