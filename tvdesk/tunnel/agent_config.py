"""The ngrok agent's config file: where it lives, what it says, and that it never lingers.

It holds the authtoken (kept off the agent's command line, see ``agent``), so it is 0600 in
a 0700 folder and exists only while an agent may read it. It also turns the agent's
request inspection off: ngrok otherwise keeps every request body, webhook secret
included, at its local API (127.0.0.1:4040), which has no authentication at all.

No pyngrok here: the engine clears a leftover file at every start, ``--no-tunnel`` too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from tvdesk.config.paths import Paths
from tvdesk.support.atomic import write_atomic
from tvdesk.support.platform import current

log = logging.getLogger(__name__)

CONFIG_NAME = "ngrok.yml"


def config_path(paths: Paths) -> Path:
    """tvdesk's own agent config, never the trader's ngrok config."""
    return paths.config_dir / "ngrok" / CONFIG_NAME


def write_config(path: Path, authtoken: str) -> None:
    """The agent's config, readable by this user only, replaced atomically."""
    text = (
        'version: "3"\n'
        "agent:\n"
        f"  authtoken: {json.dumps(authtoken)}\n"
        "  update_check: false\n"
        # -1: keep no request at all for the inspection UI and its API (see the docstring).
        "  inspect_db_size: -1\n"
    )
    write_atomic(path, text, mode=0o600)
    if current().has_mode_bits() and not path.parent.is_symlink():
        # The folder may predate us with looser modes (pyngrok's download makes it 0755
        # under the usual umask): nobody else may even list it.
        os.chmod(path.parent, 0o700)


def remove_config(paths: Paths) -> bool:
    """Delete the agent config and any half-written copy; True if there was one.

    The tunnel deletes it when it stops; this catches the copy a crash (kill -9, a power
    cut) left behind, whatever this run does with the tunnel.
    """
    path = config_path(paths)
    found = False
    # write_atomic's temporary siblings hold the authtoken as well.
    for leftover in (path, *path.parent.glob(f".{CONFIG_NAME}.*.tmp")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            found = True
    return found


def remove_leftover_config(paths: Paths) -> None:
    """At start: no agent of ours runs yet, so any config file is a crash's leftover."""
    try:
        if remove_config(paths):
            log.info("deleted the ngrok agent config (with its authtoken) a crash left behind")
    except OSError as exc:
        log.warning(
            "could not delete the ngrok agent config left behind at %s (%s): delete it by hand,"
            " it holds the ngrok authtoken",
            config_path(paths),
            exc.strerror or exc,
        )
