"""engine.json in the data dir: where the running engine listens and in which mode, so
the CLI (send-test, status, kill, resume) can find it. Gone when the engine stops."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tvdesk import __version__
from tvdesk.support.atomic import write_atomic


def write_engine_file(
    path: Path,
    *,
    host: str,
    port: int,
    tunnel_port: int | None,  # None: the tunnel is off, so there is no tunnel listener
    control_port: int,
    public_url: str | None,
    mode: str,
) -> None:
    info = {
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "tunnel_port": tunnel_port,
        "control_port": control_port,
        "public_url": public_url,
        "mode": mode,
        "version": __version__,
    }
    write_atomic(path, json.dumps(info, indent=2), mode=0o600)
