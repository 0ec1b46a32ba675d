"""The parser's shortcut for the usual field (a known name with a plain value, looked up
once per name) reads every alert exactly as the full look at each field does.

A key of a ``str`` subclass takes the full look (the shortcut is for exact ``str`` keys, as
JSON gives them), so each body is parsed both ways and the outcomes compared: the same
Alert, notes, dialect and ignored fields, or the same problems.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvdesk.core.alert.fields import Alert, BodyError, InvalidAlert
from tvdesk.core.alert.names import ALIASES
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.text_forms import load_alert_body

SECRET = "whsec_current_0123456789abcdef"
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
CORPUS = json.loads((Path(__file__).parent / "alert_corpus.json").read_text())["entries"]


class _Spelled(str):
    """A field name that is not an exact ``str``: read the long way."""


def _long_way(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {_Spelled(k) if isinstance(k, str) else k: _long_way(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_long_way(v) for v in obj]
    return obj


def _outcome(obj: dict[str, Any]) -> Alert | tuple[str, dict[str, str]]:
    try:
        return parse_alert(obj, now=NOW, max_age_s=300, max_skew_s=60, webhook_secrets=(SECRET,))
    except InvalidAlert as e:
        return e.message, e.fields


def _both_ways(obj: dict[str, Any]) -> Alert | tuple[str, dict[str, str]]:
    short, long = _outcome(obj), _outcome(_long_way(obj))
    assert short == long
    return short


def _corpus_bodies() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for entry in CORPUS:
        for i, sent in enumerate([entry, *entry.get("setup", []), *entry.get("then", [])]):
            if not isinstance(sent, dict) or "body" not in sent:
                continue
            body = sent["body"]
            raw = json.dumps(body) if isinstance(body, dict) else body
            raw = raw.replace("SECRET", SECRET).replace("{{timenow}}", "2027-01-15T08:00:00Z")
            raw = raw.replace("{{time}}", "2027-01-15T07:00:00Z")
            try:
                found.append((f"{entry['id']}-{i}", load_alert_body(raw.encode())))
            except BodyError:
                continue  # refused before parsing: nothing for the parser to read
    return found


@pytest.mark.parametrize(
    ("name", "obj"), _corpus_bodies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_corpus_alert_reads_the_same_both_ways(name: str, obj: dict[str, Any]) -> None:
    _both_ways(obj)


def test_the_readme_alert_reads_both_ways_to_the_same_trade() -> None:
    body = {"secret": SECRET, "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "price": "64250.5"}
    alert = _both_ways(body)
    assert isinstance(alert, Alert)
    assert (alert.symbol, alert.side, alert.qty, alert.price) == (
        "BTCUSDT",
        "buy",
        Decimal("0.01"),
        Decimal("64250.5"),
    )
    assert alert.dialect == "json-tvdesk"


def test_a_name_seen_plain_is_still_read_as_a_container_when_it_holds_one() -> None:
    plain = _both_ways({"symbol": "BTCUSDT", "side": "buy", "qty": 1, "strategy": "Trend"})
    nested = _both_ways(
        {"symbol": "BTCUSDT", "side": "buy", "strategy": {"market_position_size": "3"}}
    )
    assert isinstance(plain, Alert) and plain.strategy == "Trend"
    assert isinstance(nested, Alert) and nested.target_position == Decimal(3)


def test_a_credential_name_is_refused_every_time_it_is_sent() -> None:
    for _ in range(2):  # the second time its name has been seen before
        message, fields = _both_ways({"symbol": "BTCUSDT", "side": "buy", "qty": 1, "apiKey": "k"})
        assert "apiKey" in fields and "Secrets tab" in message


def test_digits_of_another_script_are_still_refused() -> None:
    message, _ = _both_ways({"symbol": "BTCUSDT", "side": "buy", "qty": "١٢"})
    assert "ASCII digits" in message


_NAMES = [alias for names in ALIASES.values() for alias in names] + [
    *("bar", "foo", "trailing_stop", "reduceOnly", "secret", "api_key", "tvdesk_text"),
]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2_000_000_000_000),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.sampled_from(["buy", "sell", "close", "cancel", "flat", "long", "BTCUSDT", "0.5", ""]),
    st.sampled_from(["limit", "market", "quote", "3x", "{{close}}", "2027-01-15T08:00:00Z"]),
    st.text(max_size=12),
)


@st.composite
def _flat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(_NAMES), max_size=8, unique=True))
    spell = draw(st.sampled_from([str, str.upper, str.title, lambda n: n.replace("_", "-")]))
    body = {spell(name): draw(_VALUES) for name in names}
    if draw(st.booleans()):  # a readable order often, so both ways reach the Alert
        body.setdefault("symbol", "BTCUSDT")
        body.setdefault("side", draw(st.sampled_from(["buy", "sell"])))
        body.setdefault("qty", draw(st.sampled_from(["0.1", Decimal(2), 3])))
    return body


@settings(max_examples=400, deadline=None)
@given(_flat_bodies())
def test_any_flat_body_reads_the_same_both_ways(body: dict[str, Any]) -> None:
    _both_ways(body)
