"""Reading settings.toml: the file's text, TOML parsing, and SettingsError messages that name
the file, the line and the key, and say how to fix it."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from tvdesk.config.schema import Settings
from tvdesk.config.validate import KeyPath, Problem, key_label, settings_from_data


class SettingsError(Exception):
    """The settings file cannot be used; the message names the file, key and line, and the fix."""


# --- finding the line of a key, for messages ---

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*"
_HEADER_RE = re.compile(rf"\s*(\[\[?)\s*({_KEY})\s*\]")
_ASSIGN_RE = re.compile(rf"\s*({_KEY})\s*=")
_PART_RE = re.compile(rf"{_BARE}|{_QUOTED}")


def _key_parts(key: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART_RE.findall(key))


def _key_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_rows: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER_RE.match(line):
            names = _key_parts(header.group(2))
            if header.group(1) == "[[":
                row = array_rows.get(names, 0)
                array_rows[names] = row + 1
                table = (*names, row)
            elif names[:1] in array_rows:
                table = (names[0], array_rows[names[:1]] - 1, *names[1:])
            else:
                table = names
            lines.setdefault(table, number)
        elif assign := _ASSIGN_RE.match(line):
            lines.setdefault((*table, *_key_parts(assign.group(1))), number)
    return lines


def _describe(path: Path, problems: list[Problem], text: str) -> str:
    lines = _key_lines(text)

    def line_of(where: KeyPath) -> str:
        for end in range(len(where), 0, -1):
            if where[:end] in lines:
                return str(lines[where[:end]])
        return "?"

    if len(problems) == 1:
        where, message = problems[0]
        return f"{path}, line {line_of(where)}: {key_label(where)} {message}."
    rows = [
        f"  line {line_of(where)}: {key_label(where)} {message}." for where, message in problems
    ]
    return f"{path} has {len(problems)} problems:\n" + "\n".join(rows)


# --- loading ---


def parse_settings_text(text: str, path: Path) -> dict[str, Any]:
    """The TOML in text as plain data (floats as Decimal); SettingsError if it is not TOML."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at (?:line (\d+), column (\d+)|end of document)\)$", str(exc))
        reason = str(exc)[: found.start()].strip() if found else str(exc)
        at = f"line {found.group(1)}, column {found.group(2)}" if found and found.group(1) else ""
        raise SettingsError(
            f"{path}, {at or 'at the end of the file'}: not valid TOML ({reason}). "
            "Fix that line: text needs double quotes, each setting is key = value."
        ) from None


def read_settings_file(path: Path) -> str | None:
    """The file's text, or None when there is no file yet; SettingsError if unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8.") from None
    except OSError as exc:
        raise SettingsError(
            f"{path} cannot be read ({exc.strerror}): check its permissions."
        ) from None


def load_settings(path: Path) -> Settings:
    text = read_settings_file(path)
    if text is None:
        return Settings()
    settings, problems = settings_from_data(parse_settings_text(text, path))
    if problems or settings is None:
        raise SettingsError(_describe(path, problems, text))
    return settings
