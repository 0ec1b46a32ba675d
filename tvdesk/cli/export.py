"""``tvdesk export``: the journal, one record per alert, as JSON lines or CSV."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from tvdesk.cli.common import fail
from tvdesk.support import exits

Writer = Callable[[Iterator[dict[str, Any]], TextIO], int]


def cmd_export(data_dir: Path | None, fmt: str, output: Path | None) -> int:
    from tvdesk.config.paths import resolve_paths
    from tvdesk.store.export import ExportError, records, write_csv, write_jsonl

    journal = resolve_paths(data_dir).journal_file
    write = write_csv if fmt == "csv" else write_jsonl
    try:
        # Opened before any output: a failed export must not clobber the last good file.
        rows = records(journal)
        if output is None:
            write(rows, _utf8(sys.stdout))
        else:
            _write_file(output, write, rows)
    except ExportError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        raise  # the reader went away (| head): main ends quietly
    except OSError as exc:
        # Named as the trader gave it, never as the temporary file beside it.
        where = output if output is not None else "the standard output"
        return fail(f"cannot write {where}: {exc.strerror or exc}")
    return exits.OK


def _utf8(stream: TextIO) -> TextIO:
    """The standard output as UTF-8: the export is UTF-8 wherever it goes (a Windows
    console or pipe defaults to a code page that cannot hold "→" or a non-Latin name)."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
        reconfigure(encoding="utf-8")
    return stream


def _write_file(output: Path, write: Writer, rows: Iterator[dict[str, Any]]) -> None:
    """Write beside ``output`` and rename: a journal found damaged half-way through leaves
    the previous export whole (a pipe or a device is written directly)."""
    if output.exists() and not output.is_file():
        with open(output, "w", encoding="utf-8", newline="") as out:
            write(rows, out)
        return
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(rows, out)
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
