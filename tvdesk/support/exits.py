"""tvdesk's exit codes, one table for every command (README, "Exit codes").

A script can tell "try again later" (FAILED: no engine running, the engine unreachable,
a test alert refused, the self-test failed) from "change something first" (USAGE: the
command line, or what it points at — settings.toml, the data folder, the keyring, a
damaged journal, another tvdesk already on this data dir).
"""

from __future__ import annotations

OK = 0
FAILED = 1  # it ran and did not succeed; the same command may succeed later
USAGE = 2  # the command line, or the settings/files it points at, must be fixed first
INTERRUPTED = 130  # Ctrl+C (128 + SIGINT), as shells report it
PIPE_CLOSED = 141  # the reader of stdout went away (128 + SIGPIPE), e.g. `| head -1`

TABLE = {
    OK: "done",
    FAILED: "it ran and failed; the same command may work later",
    USAGE: "fix the command line, settings.toml, the data folder or the keyring first",
    INTERRUPTED: "stopped by Ctrl+C",
    PIPE_CLOSED: "the program reading the output closed it (tvdesk export | head)",
}
