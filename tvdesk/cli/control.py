"""``tvdesk status``, ``kill`` and ``resume``: the running engine's control port, signed.

Signed with the webhook secret, read as the engine reads it (cli.unlock: the encrypted
secrets file too). A person gets a few readable lines; ``--json`` prints the engine's reply
as it came (the shape scripts rely on: DESIGN.md, "Control port").
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from tvdesk.cli.common import fail, read_engine_file
from tvdesk.cli.unlock import open_keystore
from tvdesk.support import exits


def cmd_control(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.keystore import WEBHOOK_SECRET, KeystoreError, service_name
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.secret_stores import SecretsFileError
    from tvdesk.door.control import ControlError, call

    paths = resolve_paths(data_dir)
    info = read_engine_file(paths.engine_file)
    if not info.get("control_port"):
        return fail(f"no tvdesk is running on {paths.data_dir}", exits.FAILED)
    try:
        service = service_name(data_dir)
        keystore = open_keystore(service, paths.config_dir, os.environ, needs=[WEBHOOK_SECRET])
        secret = keystore.get(WEBHOOK_SECRET)
    except (KeystoreError, SecretsFileError) as exc:
        return fail(str(exc))
    if not secret:
        return fail("no webhook secret to sign with: set TVDESK_WEBHOOK_SECRET")
    try:
        if args.command == "status":
            reply = call(info["control_port"], secret, "GET", "/status")
        elif args.command == "kill":
            reply = call(info["control_port"], secret, "POST", "/kill", {"flatten": args.flatten})
        else:
            reply = call(info["control_port"], secret, "POST", "/resume", {})
    except ControlError as exc:
        return fail(str(exc), exits.FAILED)
    if args.json:
        print(json.dumps(reply, indent=2))
    elif args.command == "status":
        print(status_text(reply))
    else:
        print(switch_text(reply))
    return exits.OK


def status_text(status: dict[str, Any]) -> str:
    """The engine's /status reply as a person reads it: one line per part."""
    mode = str(status.get("mode", "?")).upper()
    kill = "ON: no new orders" if status.get("kill_switch") else "off"
    listener = status.get("listener") or {}
    tunnel = status.get("tunnel") or {}
    today = status.get("today") or {}
    return "\n".join(
        [
            f"tvdesk {status.get('version', '?')}: {mode} mode, kill switch {kill}",
            f"listener   {listener.get('host', '?')}:{listener.get('port', '?')}"
            f" (alerts waiting: {status.get('queue_depth', 0)})",
            f"tunnel     {_tunnel_text(tunnel)}",
            f"exchange   {_exchange_text(status)}",
            f"today      {today.get('alerts', 0)} alerts ({today.get('accepted', 0)} accepted,"
            f" {today.get('refused', 0)} refused), {today.get('orders', 0)} orders,"
            f" {today.get('fills', 0)} fills, realised P&L {today.get('realized_pnl', '0')}",
        ]
    )


def _tunnel_text(tunnel: dict[str, Any]) -> str:
    text = str(tunnel.get("state", "off"))
    if tunnel.get("public_url"):
        text += f" {tunnel['public_url']}"
    why = tunnel.get("error") or tunnel.get("detail")
    return f"{text} ({why})" if why else text


def _exchange_text(status: dict[str, Any]) -> str:
    connection = status.get("exchange_status") or {}
    state = str(connection.get("state", "off"))
    text = f"{status.get('exchange', '?')} {state}"
    if state == "off" and status.get("mode") == "paper":
        text += " (paper trading needs no connection)"
    if connection.get("markets"):
        text += f", {connection['markets']} markets"
    if connection.get("error"):
        text += f" ({connection['error']})"
    circuit = status.get("circuit") or {}
    if circuit.get("state") == "open":
        text += f"; orders paused: {circuit.get('reason') or 'repeated failures'}"
        text += f", again in {circuit.get('resumes_in_s', 0):.0f} s"
    return text


def switch_text(reply: dict[str, Any]) -> str:
    """``kill`` / ``resume``: where the kill switch is now, in the engine's own words."""
    state = "ON" if reply.get("kill_switch") else "off"
    lines = [str(reply.get("message") or f"kill switch {state}")]
    flattened = reply.get("flatten_alerts")
    if flattened:
        lines.append(f"closing positions: {len(flattened)} flatten alerts queued")
    return "\n".join(lines)
