"""The alert message a trader pastes into TradingView: tvdesk's own JSON, or the format of
the bridge they come from (TradersPost, 3Commas, PineConnector, ...), with the webhook
secret in that format's own secret slot, so a migrating trader keeps the syntax they know.

Each template is written in TradingView placeholders ({{ticker}}, {{close}}, ...) and is
read by the real parser as a buy or a sell (tests/core/test_templates.py), so a template
cannot drift from what the door reads.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

SECRET = "$secret"  # the secret slot in a template (a JSON value, or in a text body)

# A text body splits on these, and a JSON-looking start makes it a JSON body.
_TEXT_UNSAFE = "\"',;={}[]"


@dataclass(frozen=True)
class MessageTemplate:
    """One product's alert message: a JSON object (``SECRET`` as the secret slot's value)
    or a text (``$secret`` where the secret goes), and what tvdesk reads from it."""

    key: str
    label: str
    note: str
    body: Mapping[str, Any] | str

    def render(self, secret: str) -> str:
        """The message with ``secret`` in its slot (the secret is never checked here: see
        ``secret_problem``)."""
        if isinstance(self.body, str):
            return Template(self.body).substitute(secret=secret)
        filled = {k: secret if v == SECRET else v for k, v in self.body.items()}
        return json.dumps(filled, indent=2, ensure_ascii=False)

    def secret_problem(self, secret: str) -> str | None:
        """Why ``secret`` cannot travel in this text syntax, in words; None when it can."""
        if not isinstance(self.body, str):
            return None  # JSON escapes whatever the secret holds
        if not any(c.isspace() or c in _TEXT_UNSAFE for c in secret):
            return None
        # Which characters is not said: that would show part of the secret.
        return (
            f"the webhook secret has a character the {self.label} syntax cannot carry (a "
            f"space or one of {' '.join(_TEXT_UNSAFE)}): generate a new secret in Secrets "
            "(letters, digits, - and _), or use a JSON format"
        )


def _json(key: str, label: str, note: str, **body: Any) -> MessageTemplate:
    return MessageTemplate(key, label, note, body)


_PAPER_PRICE = (
    "; it carries no price, so paper mode fills at the last price seen (or the exchange's, "
    'with [paper] price_source = "market")'
)

TVDESK = _json(
    "tvdesk",
    "tvdesk (JSON)",
    "tvdesk's own names: the strategy's order side and size in coins, the close as the "
    "reference price, the firing time (stale alerts are refused) and client_ref, so a resend "
    "never trades twice.",
    secret=SECRET,
    symbol="{{ticker}}",
    side="{{strategy.order.action}}",
    qty="{{strategy.order.contracts}}",
    price="{{close}}",
    timestamp="{{timenow}}",
    client_ref="{{strategy.order.id}}-{{timenow}}",
)
TVDESK_POSITION_SYNC = _json(
    "tvdesk",
    "tvdesk (JSON)",
    "tvdesk trades to the strategy's position after the order ({{strategy.position_size}}), "
    "so one missed alert is healed by the next.",
    secret=SECRET,
    symbol="{{ticker}}",
    position_size="{{strategy.position_size}}",
    price="{{close}}",
    timestamp="{{timenow}}",
    client_ref="{{strategy.order.id}}-{{timenow}}",
)
TVDESK_INDICATOR = _json(
    "tvdesk",
    "tvdesk (JSON)",
    "An indicator alert has no order to copy: this one buys 0.001 coin; make a second alert "
    'with "side": "sell" for the exit.',
    secret=SECRET,
    symbol="{{ticker}}",
    side="buy",
    qty="0.001",
    price="{{close}}",
    timestamp="{{timenow}}",
    client_ref="{{ticker}}-buy-{{timenow}}",
)
# tvdesk's own JSON comes in the three kinds of TradingView alert the Connect panel offers.
TVDESK_KINDS = {
    "strategy": TVDESK,
    "position_sync": TVDESK_POSITION_SYNC,
    "indicator": TVDESK_INDICATOR,
}

TRADERSPOST = _json(
    "traderspost",
    "TradersPost",
    "tvdesk reads ticker, action, quantity (in coins, or quantityType's unit), price and "
    "sentiment (flat closes the position); TradersPost trusts its URL, so secret is added.",
    ticker="{{ticker}}",
    action="{{strategy.order.action}}",
    sentiment="{{strategy.market_position}}",
    quantity="{{strategy.order.contracts}}",
    price="{{close}}",
    time="{{timenow}}",
    interval="{{interval}}",
    secret=SECRET,
)
THREE_COMMAS = _json(
    "3commas",
    "3Commas signal bot",
    "tvdesk reads tv_instrument, action, order.amount (currency_type base: coins), "
    "trigger_price, timestamp and strategy_info's position after the order, which it trades "
    "to; your tvdesk secret goes in secret, and no bot_uuid is needed.",
    secret=SECRET,
    timestamp="{{timenow}}",
    trigger_price="{{close}}",
    tv_instrument="{{ticker}}",
    action="{{strategy.order.action}}",
    strategy_info={
        "market_position": "{{strategy.market_position}}",
        "market_position_size": "{{strategy.market_position_size}}",
        "prev_market_position": "{{strategy.prev_market_position}}",
        "prev_market_position_size": "{{strategy.prev_market_position_size}}",
    },
    order={"amount": "{{strategy.order.contracts}}", "currency_type": "base"},
)
OKX_SIGNAL_BOT = _json(
    "okx",
    "OKX Signal Bot",
    "tvdesk reads instrument, action, amount (investmentType base: coins) and marketPosition "
    "(flat closes the position), with your tvdesk secret in signalToken" + _PAPER_PRICE + ".",
    action="{{strategy.order.action}}",
    marketPosition="{{strategy.market_position}}",
    prevMarketPosition="{{strategy.prev_market_position}}",
    instrument="{{ticker}}",
    signalToken=SECRET,
    timestamp="{{timenow}}",
    investmentType="base",
    amount="{{strategy.order.contracts}}",
)
PINECONNECTOR = MessageTemplate(
    "pineconnector",
    "PineConnector",
    "Your tvdesk secret takes the licence ID's place; tvdesk reads buy/sell, the symbol, "
    "risk= as a quantity in coins (PineConnector's lots) and sl=/tp= as prices"
    + _PAPER_PRICE
    + ".",
    "$secret,{{strategy.order.action}},{{ticker}},risk={{strategy.order.contracts}}",
)
AUTOVIEW = MessageTemplate(
    "autoview",
    "Autoview",
    "tvdesk reads s=, b=, q= (coins; q=10% is 10 % of the free balance), t= and p= (the "
    "reference price at t=market, the limit at t=limit); Autoview has no secret, so secret= "
    "is added.",
    "s={{ticker}} b={{strategy.order.action}} q={{strategy.order.contracts}} t=market "
    "p={{close}} secret=$secret",
)
OCTOBOT = MessageTemplate(
    "octobot",
    "OctoBot (KEY=VALUE)",
    "tvdesk reads SYMBOL, SIGNAL, VOLUME (coins), ORDER_TYPE, PRICE, STOP_PRICE and "
    "TAKE_PROFIT_PRICE, with your tvdesk secret in TOKEN=.",
    "SYMBOL={{ticker}}\n"
    "SIGNAL={{strategy.order.action}}\n"
    "ORDER_TYPE=MARKET\n"
    "VOLUME={{strategy.order.contracts}}\n"
    "PRICE={{close}}\n"
    "TOKEN=$secret",
)
TRADINGVIEW_DEFAULT = MessageTemplate(
    "tradingview",
    "TradingView default message",
    "Your strategy's default message (TradingView puts its name before the colon) with your "
    "tvdesk secret alone on the first line: tvdesk trades to the new strategy position"
    + _PAPER_PRICE
    + ".",
    "$secret\nMy Strategy: order {{strategy.order.action}} @ {{strategy.order.contracts}} "
    "filled on {{ticker}}. New strategy position is {{strategy.position_size}}",
)
SIGNALBEE = _json(
    "signalbee",
    "SignalBee",
    "tvdesk reads side, symbol, quantity in coins (quantity_type percentage: percent of the "
    "free balance), signal_price and source_timestamp, with your tvdesk secret in "
    "webhook_secret.",
    webhook_secret=SECRET,
    side="{{strategy.order.action}}",
    symbol="{{ticker}}",
    quantity="{{strategy.order.contracts}}",
    source_timestamp="{{timenow}}",
    signal_price="{{close}}",
)

# "I'm coming from ...", in the order the Connect panel lists them; tvdesk's own first.
PRODUCTS = (
    TVDESK,
    TRADERSPOST,
    THREE_COMMAS,
    OKX_SIGNAL_BOT,
    PINECONNECTOR,
    AUTOVIEW,
    OCTOBOT,
    TRADINGVIEW_DEFAULT,
    SIGNALBEE,
)
_BY_KEY = {template.key: template for template in PRODUCTS}


def message_template(product: str, kind: str = "strategy") -> MessageTemplate:
    """The template of ``product`` (a key of PRODUCTS); for tvdesk's own JSON, of ``kind``
    (strategy, position_sync or indicator). KeyError names an unknown one."""
    if product == TVDESK.key:
        return TVDESK_KINDS[kind]
    return _BY_KEY[product]
