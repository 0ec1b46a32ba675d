"""Reads canonical fields out of an alert object, whatever names and containers the sender
used (nested.py), recording every problem against the field as the sender spelled it.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from tvdesk.core.alert.nested import flatten
from tvdesk.core.alert.values import FieldError, show

_T = TypeVar("_T")
_FAILED = object()  # what _convert returns for a value it could not read


def _same(a: object, b: object) -> bool:
    # type() first: 1 == True and Decimal("1") == 1 must not hide a disagreement.
    return type(a) is type(b) and a == b


class FieldReader:
    """Reads canonical fields from an alert, recording problems per field as spelled."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.given: dict[str, list[tuple[str, Any]]] = {}
        self.blank: dict[str, str] = {}
        flat = flatten(obj)
        self.errors: dict[str, str] = dict(flat.problems)
        self.ignored: list[str] = flat.ignored
        for key, field, value in flat.given:
            if value is None or (isinstance(value, str) and not value.strip()):
                self.blank.setdefault(field, key)
            else:
                self.given.setdefault(field, []).append((key, value))

    def key(self, field: str) -> str:
        """The field's name as the sender spelled it (or the canonical name when absent)."""
        entries = self.given.get(field)
        return entries[0][0] if entries else self.blank.get(field, field)

    def sent(self, field: str) -> Any:
        """The field's value as sent (the first, when aliases repeat it); None when absent."""
        entries = self.given.get(field)
        return entries[0][1] if entries else None

    def move(self, field: str, to: str) -> None:
        """Read what was sent as ``field`` as ``to`` (a quantity that a unit makes a notional)."""
        if field in self.given:
            self.given.setdefault(to, []).extend(self.given.pop(field))

    def ignore(self, *fields: str) -> None:
        """Leave these fields unread, listed as ignored."""
        for field in fields:
            self.ignored += [key for key, _ in self.given.pop(field, ())]

    def missing(self, field: str, fix: str) -> None:
        key = self.key(field)
        self.fail(key, f"{key} is {'empty' if field in self.blank else 'missing'}: {fix}")

    def fail(self, key: str, problem: str) -> None:
        self.errors[key] = f"{self.errors[key]}; {problem}" if key in self.errors else problem

    def read(self, field: str, convert: Callable[[str, Any], _T]) -> _T | None:
        entries = self.given.get(field)
        if not entries:
            return None
        if len(entries) == 1 or all(_same(value, entries[0][1]) for _, value in entries):
            # The usual alert names each field once: read it without the comparisons.
            key, value = entries[0]
            one = self._convert(key, value, convert)
            return None if one is _FAILED else cast(_T, one)
        results = [self._convert(key, value, convert) for key, value in entries]
        if any(result is _FAILED for result in results):
            return None
        if any(result != results[0] for result in results):
            keys = [key for key, _ in entries]
            names = ", ".join(keys[:-1]) + " and " + keys[-1]
            shown = " vs ".join(show(value) for _, value in entries)
            for key in keys:
                self.fail(key, f"{names} disagree ({shown}): send only one")
            return None
        return cast(_T, results[0])

    def _convert(self, key: str, value: Any, convert: Callable[[str, Any], _T]) -> object:
        """``convert(key, value)``, or _FAILED with the problem recorded against ``key``."""
        if isinstance(value, str) and "{{" in value and "}}" in value:  # not replaced
            self.fail(
                key,
                f"{key} is {show(value)}: TradingView did not replace the placeholder. "
                "Strategy placeholders ({{strategy.…}}) work only in strategy alerts; "
                "check the spelling against TradingView's list",
            )
            return _FAILED
        try:
            return convert(key, value)
        except FieldError as e:
            self.fail(key, str(e))
            return _FAILED
