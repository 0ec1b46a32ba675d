"""What an alert's side/action word asks for: buy, sell, close the position, or cancel
tvdesk's resting orders on the market. Each product spells these its own way.
"""

from tvdesk.core.alert.values import FieldError, choice, show

CLOSE, CLOSE_LONG, CLOSE_SHORT, CANCEL = "close", "close_long", "close_short", "cancel"
CLOSES = frozenset((CLOSE, CLOSE_LONG, CLOSE_SHORT))

# Normalised word (lower case, no separators) -> action.
_ACTIONS = {
    **dict.fromkeys(("buy", "long", "enterlong"), "buy"),
    **dict.fromkeys(("sell", "short", "entershort"), "sell"),
    **dict.fromkeys(("exitlong", "closelong"), CLOSE_LONG),
    **dict.fromkeys(("exitshort", "closeshort"), CLOSE_SHORT),
    **dict.fromkeys(("exit", "close", "flat", "closeall"), CLOSE),
    "cancel": CANCEL,
}
_SUPPORTED = (
    "buy or sell (long/short, enter_long/enter_short), exit_long/exit_short, "
    "exit/close/flat (close the position) or cancel (tvdesk's resting orders)"
)

# TradersPost's sentiment says bullish / bearish too.
as_market_position = choice(
    "long", "short", "flat", synonyms={"bullish": "long", "bearish": "short"}
)


def as_action(key: str, value: object) -> str:
    """buy | sell | close | close_long | close_short | cancel; any case or separator."""
    word = value.lower().translate(str.maketrans("", "", "_- .")) if isinstance(value, str) else ""
    action = _ACTIONS.get(word)
    if action is None:
        raise FieldError(f"{key} must be {_SUPPORTED}; got {show(value)}")
    return action
