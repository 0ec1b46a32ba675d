"""docs/alerts.md, the trader's reference of alert formats, held to the code: every example
on the page is read by the real parser (the door's load_alert_body, body secret, parse_alert)
as the page says, and every name and value the page lists is one the code reads, and the
other way round. A page that drifts from the code fails here."""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tvdesk.core.alert import actions, nested, text_forms, text_kv, units
from tvdesk.core.alert.fields import (
    CREDENTIAL_NAME_PARTS,
    SECRET_FIELDS,
    Alert,
    BodyError,
    InvalidAlert,
)
from tvdesk.core.alert.intent import reading
from tvdesk.core.alert.names import ALIASES, FIELD_OF, normalise
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.text_forms import load_alert_body
from tvdesk.core.auth import WebhookSecrets, verify_body_secret

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "alerts.md").read_text()
SECRET = "YOUR_WEBHOOK_SECRET"  # the page's stand-in for the trader's secret
NOW = 1_700_000_000.0
ISO_NOW = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
# What a "tvdesk reads:" line states; a field it leaves out must be empty on the alert.
STATED = ("symbol", "exchange", "side", "order_type", "market_position")
AMOUNTS = ("qty", "notional", "qty_pct", "target_position", "price", "stop_loss", "take_profit")
REQUIRED = ("dialect", "symbol", "side", "order_type")


def section(title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#|\Z)", DOC, re.M | re.S)
    assert match, f"docs/alerts.md has no heading {title!r}"
    return match[1]


def table(text: str) -> list[list[str]]:
    """The first markdown table's body rows, as cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) > 2, "no table"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def ticks(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def names(text: str) -> set[str]:
    return {normalise(word) for word in ticks(text)}


# -- (a) every example, as the parser reads it ---------------------------------------------


@dataclass(frozen=True)
class Example:
    line: int
    body: str
    verb: str  # reads | refuses
    stated: dict[str, str]


def examples() -> list[Example]:
    found = []
    fence = re.compile(
        r"^```(\w*)\n(.*?)^```\n(?:\ntvdesk (reads|refuses): `([^`]*)`)?", re.M | re.S
    )
    for match in fence.finditer(DOC):
        info, body, verb, stated = match.groups()
        line = DOC.count("\n", 0, match.start()) + 1
        if info == "http":
            continue  # the signature headers, not an alert
        assert info in ("json", "text"), f"docs/alerts.md:{line}: fence as json, text or http"
        assert verb, f"docs/alerts.md:{line}: an alert example needs a 'tvdesk reads:' line"
        pairs = dict(item.split("=", 1) for item in stated.split())
        found.append(Example(line, body, verb, pairs))
    return found


EXAMPLES = examples()
READS = [example for example in EXAMPLES if example.verb == "reads"]
REFUSALS = [example for example in EXAMPLES if example.verb == "refuses"]


def at_line(example: Example) -> str:
    return f"docs/alerts.md:{example.line}"


# The page's placeholder table; {{timenow}} is "the time the alert fired".
PLACEHOLDERS = {
    ticks(row[0])[0]: (ticks(row[1]) or [ISO_NOW])[0]
    for row in table(section("One example per dialect"))
}


def render(body: str) -> bytes:
    for placeholder, value in PLACEHOLDERS.items():
        body = body.replace(placeholder, value)
    left = re.findall(r"\{\{[^}]*\}\}", body)
    assert not left, f"placeholders missing from the page's placeholder table: {left}"
    return body.encode()


def load(example: Example) -> dict[str, Any]:
    obj = load_alert_body(render(example.body))
    assert verify_body_secret(obj, WebhookSecrets(SECRET), NOW).ok, "secret not in its slot"
    return obj


def parse(obj: dict[str, Any]) -> Alert:
    return parse_alert(obj, now=NOW, max_age_s=300, max_skew_s=60, webhook_secrets=(SECRET,))


@pytest.mark.parametrize("example", READS, ids=at_line)
def test_an_example_trades_as_the_page_says(example: Example) -> None:
    stated = example.stated
    assert set(REQUIRED) <= stated.keys(), f"line {example.line} must state {REQUIRED}"
    assert set(stated) <= {"dialect", *STATED, *AMOUNTS}, f"line {example.line}: unknown key"
    alert = parse(load(example))
    assert alert.dialect == stated["dialect"]
    for name in STATED:
        expected = stated.get(name)
        assert getattr(alert, name) == (None if expected == "none" else expected), name
    for name in AMOUNTS:
        expected = Decimal(stated[name]) if name in stated else None
        assert getattr(alert, name) == expected, name


@pytest.mark.parametrize("example", REFUSALS, ids=at_line)
def test_a_refused_example_is_refused_naming_the_fields(example: Example) -> None:
    stated = example.stated
    if stated["status"] == "400":
        with pytest.raises(BodyError):
            load_alert_body(render(example.body))
        return
    assert stated["status"] == "422"
    obj = load(example)
    assert reading(obj).dialect == stated["dialect"]
    with pytest.raises(InvalidAlert) as refused:
        parse(obj)
    assert set(refused.value.fields) == set(stated["fields"].split(","))


def test_every_dialect_the_code_names_has_an_example() -> None:
    code = set()
    for source in (ROOT / "tvdesk" / "core" / "alert").glob("*.py"):
        code |= set(re.findall(r"[\"']((?:json|text)-[a-z0-9-]+)[\"']", source.read_text()))
    shown = {example.stated["dialect"] for example in EXAMPLES}
    assert code - shown == set(), "dialects without an example in docs/alerts.md"
    assert shown - code == set(), "examples naming a dialect the code does not have"


# -- (b) every field name, both ways ----------------------------------------------------------


def reference() -> dict[str, list[str]]:
    return {ticks(row[0])[0]: ticks(row[1]) for row in table(section("Field reference"))}


def test_the_field_reference_lists_exactly_the_names_the_code_reads() -> None:
    code = {field: set(map(normalise, spelled)) for field, spelled in ALIASES.items()}
    code["secret"] = set(map(normalise, SECRET_FIELDS))
    doc = {field: set(map(normalise, spelled)) for field, spelled in reference().items()}
    assert doc.keys() == code.keys()
    for field in code:
        assert doc[field] - code[field] == set(), f"{field}: listed but not read"
        assert code[field] - doc[field] == set(), f"{field}: read but not listed"


BASE: dict[str, Any] = {"symbol": "BTCUSDT", "side": "buy", "qty": "1"}
# field -> (the alert without it, a value to send, where the alert shows it, what it shows)
PROBES: dict[str, tuple[dict[str, Any], Any, Callable[[Alert], Any], Any]] = {
    "symbol": ({"side": "buy", "qty": "1"}, "ETHUSDT", lambda a: a.symbol, "ETHUSDT"),
    "exchange": (BASE, "KRAKEN", lambda a: a.exchange, "kraken"),
    "side": ({"symbol": "BTCUSDT", "qty": "1"}, "sell", lambda a: a.side, "sell"),
    "qty": ({"symbol": "BTCUSDT", "side": "buy"}, "0.5", lambda a: a.qty, Decimal("0.5")),
    "notional": ({"symbol": "BTCUSDT", "side": "buy"}, "100", lambda a: a.notional, 100),
    "qty_pct": ({"symbol": "BTCUSDT", "side": "buy"}, "25", lambda a: a.qty_pct, 25),
    "position_size": ({"symbol": "BTCUSDT"}, "0.2", lambda a: a.target_position, Decimal("0.2")),
    "market_position": ({"symbol": "BTCUSDT"}, "flat", lambda a: a.target_position, 0),
    "order_type": ({**BASE, "price": "9"}, "limit", lambda a: a.order_type, "limit"),
    "price": (BASE, "123.5", lambda a: a.price, Decimal("123.5")),
    "limit_price": (BASE, "99", lambda a: (a.order_type, a.price), ("limit", 99)),
    "stop_loss": ({**BASE, "price": "100"}, "90", lambda a: a.stop_loss, 90),
    "take_profit": ({**BASE, "price": "100"}, "110", lambda a: a.take_profit, 110),
    "leverage": (BASE, "5x", lambda a: a.leverage, 5),
    "client_ref": (BASE, "ref-1", lambda a: a.client_ref, "ref-1"),
    "timestamp": (BASE, ISO_NOW, lambda a: a.timestamp, NOW),
    "confidence": (BASE, "0.5", lambda a: a.confidence, Decimal("0.5")),
    "strategy": (BASE, "S1", lambda a: a.strategy, "S1"),
    "comment": (BASE, "hello", lambda a: a.comment, "hello"),
    "signal": (BASE, "golden cross", lambda a: a.signal, "golden cross"),
    "test": (BASE, True, lambda a: a.test, True),
    "unit": ({"symbol": "BTCUSDT", "side": "buy", "qty": "100"}, "usdt", lambda a: a.notional, 100),
}


@pytest.mark.parametrize(
    ("field", "name"), [(f, n) for f, spelled in reference().items() for n in spelled]
)
def test_every_name_on_the_page_is_read_as_its_field(field: str, name: str) -> None:
    if field == "secret":
        obj = {**BASE, name: SECRET}
        assert verify_body_secret(obj, WebhookSecrets(SECRET), NOW).ok
        assert parse(obj).qty == 1
        return
    base, value, shown, expected = PROBES[field]
    assert shown(parse({**base, name: value})) == expected


def test_nested_objects_hold_what_the_page_says() -> None:
    rows = {
        normalise(container): names(row[1])
        for row in table(section("Nested objects"))
        for container in ticks(row[0])
    }
    assert rows.keys() == nested._CONTAINERS.keys()
    for container, listed in rows.items():
        own = set(nested._CONTAINERS[container])
        if container in nested._STRICT:
            assert listed == own, container
        else:
            assert own <= listed, container
            assert listed <= own | FIELD_OF.keys(), container


TEXT_KV = "KEY=VALUE lines (OctoBot and bots like it)"


def test_the_text_syntax_tables_match_the_readers() -> None:
    lines: dict[str, set[str]] = {}
    for key, field in text_kv._LINES.items():
        lines.setdefault(field, set()).add(key)
    doc = {ticks(row[0])[0]: names(row[1]) for row in table(section(TEXT_KV))}
    assert doc == lines
    autoview = {ticks(row[0])[0] for row in table(section("Autoview"))}
    assert autoview == set(text_kv._AUTOVIEW)
    pine = {ticks(row[0])[0] for row in table(section("PineConnector"))}
    assert pine == set(text_forms._PINE_KEYS)


# -- (c) every value the code accepts --------------------------------------------------------


def grouped(title: str, read: Callable[[str, str], str], code: dict[str, str]) -> None:
    """Each row of the section's table lists words that read as one value; all rows
    together list every word in ``code`` (normalised word -> value)."""
    listed: set[str] = set()
    for row in table(section(title)):
        words = ticks(row[0])
        assert len({read("field", word) for word in words}) == 1, f"{title}: {words}"
        listed |= set(map(normalise, words))
    assert listed == code.keys(), f"{title}: page and code differ"


def test_every_action_word_is_listed_with_its_meaning() -> None:
    grouped("Actions", actions.as_action, actions._ACTIONS)


def test_every_size_unit_is_listed_with_its_meaning() -> None:
    grouped("Size units", units.as_unit, units._UNITS)


def test_every_position_word_is_listed() -> None:
    words = [ticks(row[0])[0] for row in table(section("Position words"))]
    for word in words:
        actions.as_market_position("market_position", word)
    closure = inspect.getclosurevars(actions.as_market_position).nonlocals
    assert set(words) == {*closure["allowed"], *closure["synonyms"]}


def test_the_order_types_listed_are_the_ones_accepted() -> None:
    listed = {ticks(row[0])[0] for row in table(section("Order types"))}
    bridges_send = {"market", "limit", "stop", "stop_market", "stop_limit", "trailing_stop"}

    def accepted(word: str) -> bool:
        try:
            parse({**BASE, "price": "9", "order_type": word})
        except InvalidAlert:
            return False
        return True

    assert {word for word in listed | bridges_send if accepted(word)} == listed


def test_the_refusals_name_every_credential_and_trade_changing_part() -> None:
    bullets = section("What is refused, and why").split("\n- ")
    credentials = next(b for b in bullets if b.startswith("**Exchange credentials**"))
    assert names(credentials) == set(CREDENTIAL_NAME_PARTS)
    trade = next(b for b in bullets if b.startswith("**Fields that would change the trade**"))
    off = {'""' if word == "" else word for word in nested._OFF}
    assert names(trade) == set(nested._TRADE_PARTS) | off
