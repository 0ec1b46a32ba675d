"""``tvdesk status``, ``kill`` and ``resume``: the running engine's control port, signed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tvdesk.cli.common import fail, read_engine_file


def cmd_control(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.keystore import Keystore, KeystoreError, service_name
    from tvdesk.config.paths import resolve_paths
    from tvdesk.door.control import ControlError, call

    paths = resolve_paths(data_dir)
    info = read_engine_file(paths.engine_file)
    if not info.get("control_port"):
        return fail(f"no tvdesk is running on {paths.data_dir}", 1)
    try:
        secret = Keystore(service_name(data_dir)).get("webhook_secret")
    except KeystoreError as exc:
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
        return fail(str(exc), 1)
    print(json.dumps(reply, indent=2))
    return 0
