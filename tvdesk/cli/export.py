"""``tvdesk export``: the journal, one record per alert, as JSON lines or CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from tvdesk.cli.common import fail


def cmd_export(data_dir: Path | None, fmt: str, output: Path | None) -> int:
    from tvdesk.config.paths import resolve_paths
    from tvdesk.store.export import ExportError, records, write_csv, write_jsonl

    journal = resolve_paths(data_dir).journal_file
    write = write_csv if fmt == "csv" else write_jsonl
    try:
        # Opened before any output: a failed export must not clobber the last good file.
        rows = records(journal)
        if output is None:
            write(rows, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                write(rows, out)
    except ExportError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}")
    return 0
