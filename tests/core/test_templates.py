"""Every "I'm coming from ..." template, rendered as TradingView renders it, is read by the
real parser (as the door reads a body) as the trade its placeholders say, authenticated by
the secret in its own slot: a template cannot drift from the parser."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvdesk.core.alert.fields import Alert, alert_to_dict
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.templates import (
    PRODUCTS,
    TVDESK,
    TVDESK_KINDS,
    MessageTemplate,
    message_template,
)
from tvdesk.core.alert.text_forms import load_alert_body
from tvdesk.core.auth import WebhookSecrets, verify_body_secret

SECRET = "whsec_current_0123456789abcdef"
NOW = 1_700_000_000.0
ISO_NOW = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

# TradingView's rendering (corpus.json "about" → rendered_values) of a strategy that buys
# 0.01 BTCUSDT from flat at the close of 64250.5 ...
BUY = {
    "ticker": "BTCUSDT",
    "close": "64250.5",
    "timenow": ISO_NOW,
    "interval": "15",
    "strategy.order.action": "buy",
    "strategy.order.contracts": "0.01",
    "strategy.order.id": "Long",
    "strategy.position_size": "0.01",
    "strategy.market_position": "long",
    "strategy.market_position_size": "0.01",
    "strategy.prev_market_position": "flat",
    "strategy.prev_market_position_size": "0",
}
# ... and then sells those 0.01 back to flat.
SELL = BUY | {
    "strategy.order.action": "sell",
    "strategy.order.id": "Exit",
    "strategy.position_size": "0",
    "strategy.market_position": "flat",
    "strategy.market_position_size": "0",
    "strategy.prev_market_position": "long",
    "strategy.prev_market_position_size": "0.01",
}
HELD_BEFORE = {"buy": Decimal(0), "sell": Decimal("0.01")}

# The dialect each product's message is recognised as (the trail shows it).
DIALECTS = {
    "tvdesk": "json-tvdesk",
    "traderspost": "json-traderspost",
    "3commas": "json-3commas",
    "okx": "json-okx-signal-bot",
    "pineconnector": "text-comma-pineconnector",
    "autoview": "text-kv-autoview",
    "octobot": "text-kv-lines-octobot",
    "tradingview": "text-tradingview-default",
    "signalbee": "json-signalbee",
}
STRATEGY_TEMPLATES = [*PRODUCTS, TVDESK_KINDS["position_sync"]]


def render(template: MessageTemplate, values: dict[str, str], secret: str = SECRET) -> bytes:
    text = template.render(secret)
    rendered = re.sub(r"\{\{([^{}]+)\}\}", lambda m: values[m[1]], text)  # KeyError: unknown
    return rendered.encode()


def read(raw: bytes, secret: str = SECRET) -> Alert:
    """As the door does: the body, its secret slot, then the fields."""
    obj = load_alert_body(raw)
    assert verify_body_secret(obj, WebhookSecrets(secret), NOW).ok
    return parse_alert(obj, now=NOW, max_age_s=300, max_skew_s=60, webhook_secrets=(secret,))


def trade(alert: Alert, held: Decimal) -> tuple[str | None, Decimal | None]:
    """(side, coins) the alert trades when ``held`` coins are held: a quantity, or the way
    to its target position."""
    if alert.sizing == "qty":
        return alert.side, alert.qty
    assert alert.sizing == "target" and alert.target_position is not None
    change = alert.target_position - held
    return ("buy" if change > 0 else "sell"), abs(change)


def test_every_product_is_offered_once_with_tvdesk_json_first():
    assert [t.key for t in PRODUCTS] == list(DIALECTS)
    assert PRODUCTS[0] is TVDESK and TVDESK.label == "tvdesk (JSON)"
    for template in PRODUCTS:
        assert message_template(template.key) is template
        assert template.note.endswith(".") and template.note.count(". ") == 0  # one sentence
    assert message_template("tvdesk", "indicator") is TVDESK_KINDS["indicator"]
    assert message_template("pineconnector", "indicator").key == "pineconnector"


@pytest.mark.parametrize("template", STRATEGY_TEMPLATES, ids=lambda t: t.key)
@pytest.mark.parametrize("values", [BUY, SELL], ids=["buy", "sell"])
def test_a_rendered_template_trades_as_the_strategy_did(template, values):
    text = template.render(SECRET)
    assert SECRET in text
    alert = read(render(template, values))
    side = values["strategy.order.action"]
    assert trade(alert, HELD_BEFORE[side]) == (side, Decimal("0.01"))
    assert alert.symbol == "BTCUSDT" and alert.exchange is None  # the default exchange
    assert alert.order_type == "market"
    assert alert.price == (Decimal("64250.5") if "{{close}}" in text else None)
    assert alert.timestamp == (NOW if "{{timenow}}" in text else None)
    assert alert.dialect == DIALECTS[template.key]
    assert SECRET not in str(alert_to_dict(alert))


def test_tvdesk_json_keeps_the_order_id_apart_from_the_firing_time():
    alert = read(render(TVDESK, BUY))
    assert alert.client_ref == f"Long-{ISO_NOW}"


def test_the_indicator_template_buys_a_fixed_size():
    alert = read(render(TVDESK_KINDS["indicator"], BUY))
    assert (alert.side, alert.qty, alert.price) == ("buy", Decimal("0.001"), Decimal("64250.5"))
    assert alert.client_ref == f"BTCUSDT-buy-{ISO_NOW}"


@pytest.mark.parametrize("template", PRODUCTS, ids=lambda t: t.key)
def test_another_secret_in_the_slot_does_not_authenticate(template):
    obj = load_alert_body(render(template, BUY, secret="not_the_webhook_secret_0000"))
    assert not verify_body_secret(obj, WebhookSecrets(SECRET), NOW).ok


def test_a_secret_a_text_syntax_cannot_carry_is_named():
    problem = message_template("pineconnector").secret_problem("my,secret with=commas0")
    assert problem is not None
    assert "PineConnector" in problem and "a space" in problem and "," in problem
    assert "secret with" not in problem  # which characters is not said: part of the secret
    assert TVDESK.secret_problem("my,secret with=commas0") is None  # JSON carries anything
    for template in PRODUCTS:
        assert template.secret_problem("Zq3_-x9bTTok3nUrlSafe0123456789") is None


@settings(max_examples=60, deadline=None)
@given(secret=st.text(min_size=16, max_size=40))
def test_any_secret_a_template_accepts_authenticates_it(secret):
    for template in PRODUCTS:
        if template.secret_problem(secret) is None:
            alert = read(render(template, BUY, secret), secret)
            assert trade(alert, Decimal(0)) == ("buy", Decimal("0.01")), template.key
