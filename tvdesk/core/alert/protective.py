"""Stop-loss and take-profit: sent as a price, or as a percent or an amount away from the
entry price (TradersPost's ``stopLoss: {percent}``), turned into prices exactly.

For a buy the stop is below the entry and the take-profit above; for a sell, mirrored.
"""

from decimal import Decimal, localcontext

from tvdesk.core.alert.nested import STOP_OFFSET, STOP_PCT, TP_OFFSET, TP_PCT
from tvdesk.core.alert.reader import FieldReader
from tvdesk.core.alert.values import as_percent, as_positive

# (price field, percent field, offset field, +1 when it lies above a buy's entry)
_KINDS = (("stop_loss", STOP_PCT, STOP_OFFSET, -1), ("take_profit", TP_PCT, TP_OFFSET, 1))


def protective(
    r: FieldReader, side: str | None, entry: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """(stop_loss, take_profit) as prices; problems go to the reader."""
    stop, take = (_one(r, side, entry, kind) for kind in _KINDS)
    return stop, take


def _one(
    r: FieldReader,
    side: str | None,
    entry: Decimal | None,
    kind: tuple[str, str, str, int],
) -> Decimal | None:
    price, pct, offset, up = kind
    sent = [f for f in (price, pct, offset) if f in r.given]
    if len(sent) > 1:
        keys = [r.key(f) for f in sent]
        for key in keys:
            r.fail(key, f"{' and '.join(keys)} each set the {_words(price)}: send only one")
        return None
    if not sent or sent[0] == price:
        return r.read(price, as_positive)
    field = sent[0]
    amount = r.read(field, as_percent if field == pct else as_positive)
    if amount is None:
        return None
    key = r.key(field)
    if side not in ("buy", "sell"):
        r.fail(key, f"{key} is measured from the entry: it needs a buy or sell side")
        return None
    if entry is None:
        r.fail(
            key,
            f"{key} is measured from the entry price, and the alert has none: add price "
            "(or signal_price / limit_price), or send the stop as a price",
        )
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # exact: the operands are far shorter than 60 digits
        distance = entry * amount / 100 if field == pct else amount
        result = entry + distance if (up > 0) == (side == "buy") else entry - distance
    if result <= 0:
        r.fail(key, f"{key} puts the {_words(price)} at {result}, not above 0")
        return None
    return result


def _words(field: str) -> str:
    return field.replace("_", "-")
