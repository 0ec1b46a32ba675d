"""Writing settings back to settings.toml with tomlkit, touching only the values that changed
so the trader's comments and layout survive."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import MISSING, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Float, Integer, Trivia

from tvdesk.config.load import SettingsError, parse_settings_text, read_settings_file
from tvdesk.config.schema import Settings, SymbolRule, default_settings_text
from tvdesk.config.validate import key_label, settings_from_data
from tvdesk.support.atomic import write_atomic


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal):
        number = isinstance(old, int | float) and not isinstance(old, bool)
        return number and Decimal(str(old)) == new
    if isinstance(new, dict):
        return (
            isinstance(old, dict)
            and old.keys() == new.keys()
            and all(_same(old[key], value) for key, value in new.items())
        )
    return type(old) is type(new) and old == new


def _decimal_item(value: Decimal, keep_int: bool) -> Integer | Float:
    # "0" reads as "no limit"; whole numbers the user wrote as ints stay ints.
    if value == value.to_integral_value() and (keep_int or value == 0):
        return Integer(int(value), Trivia(), str(int(value)))
    # Fixed-point text keeps 0.00001 from turning into 1e-05 in a human-edited file.
    text = format(value, "f")
    return Float(float(value), Trivia(), text if "." in text else text + ".0")


def _item(new: Any, old: Any) -> Any:
    if isinstance(new, Decimal):
        return _decimal_item(new, isinstance(old, int) and not isinstance(old, bool))
    if isinstance(new, dict):
        table = tomlkit.inline_table()
        for key, value in new.items():
            table[key] = _item(value, old.get(key) if isinstance(old, dict) else None)
        return table
    return new


def _apply(container: MutableMapping[str, Any], current: Mapping[str, Any], obj: Any) -> None:
    """Write obj's values into a tomlkit container, touching only keys whose value changed."""
    for f in fields(obj):
        new = getattr(obj, f.name)
        old = current.get(f.name, MISSING)
        if isinstance(obj, Settings) and f.name == "symbols":
            _apply_symbols(container, old, new)
        elif is_dataclass(new):
            if not isinstance(old, dict):
                container[f.name] = tomlkit.table()
                old = {}
            _apply(container[f.name], old, new)
        elif old is MISSING or not _same(old, new):
            _replace(container, f.name, _item(new, old))


def _replace(container: Any, key: str, value: Any) -> None:
    """Set container[key] (a tomlkit table), keeping a trailing comment in its column."""
    item_of = getattr(container, "item", None)  # a table split in two has no item()
    previous = item_of(key) if item_of and key in container else None
    container[key] = value
    if item_of and previous is not None and previous.trivia.comment:
        column = len(previous.as_string()) + len(previous.trivia.comment_ws)
        current = item_of(key)
        current.trivia.comment_ws = " " * max(1, column - len(current.as_string()))


def _apply_symbols(doc: MutableMapping[str, Any], old: Any, rules: list[SymbolRule]) -> None:
    if not rules:
        # An empty array of tables would be written as "symbols = []" at the top.
        doc.pop("symbols", None)
        return
    if not isinstance(doc.get("symbols"), AoT):
        doc["symbols"] = tomlkit.aot()
        old = []
    rows = doc["symbols"]
    for i, rule in enumerate(rules):
        if i < len(old) and isinstance(old[i], dict):
            _apply(rows[i], old[i], rule)
        else:
            row = tomlkit.table()
            _apply(row, {}, rule)
            rows.append(row)
    for i in reversed(range(len(rules), len(old))):
        del rows[i]


def save_settings(settings: Settings, path: Path) -> None:
    existing = read_settings_file(path)
    if existing is not None:
        # A broken file is the user's to fix, never ours to overwrite.
        parse_settings_text(existing, path)
    doc = tomlkit.parse(existing if existing is not None else default_settings_text())
    _apply(doc, doc.unwrap(), settings)
    text = doc.as_string()
    # Save only what load_settings will accept again.
    saved, problems = settings_from_data(parse_settings_text(text, path))
    if problems or saved is None:
        where, message = problems[0]
        raise SettingsError(f"Settings not saved to {path}: {key_label(where)} {message}.")
    try:
        # Owner-only whatever mode an older file had: it describes the trader's account.
        write_atomic(path, text, mode=0o600)
    except OSError as exc:
        raise SettingsError(
            f"Settings not saved to {path} ({exc.strerror or exc}); the previous file is "
            "unchanged. Check that the folder exists and is writable."
        ) from None


def write_default_settings(path: Path) -> None:
    """A first start's settings.toml: the commented defaults, owner-only (0600) from birth."""
    write_atomic(path, default_settings_text(), mode=0o600)
