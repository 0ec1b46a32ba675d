"""The symbol map table's columns: reading one row back as a SymbolRule (every mistake named
with its fix), and the delegate that shows an empty leverage or margin-mode cell as the
default it falls back to, and edits the margin mode from a list.

Leverage and margin mode are for perpetual futures (a ccxt symbol with a settle currency,
``BTC/USDT:USDT``); on a spot market they would mean nothing, so a row is refused when it
sets them there, rather than let the trader believe the position is leveraged.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from tvdesk.config.schema import ExchangeSettings, SymbolRule
from tvdesk.core.decimals import plain

COLUMNS = (
    "TradingView ticker",
    "Exchange",
    "Market symbol",
    "Qty multiplier",
    "Leverage",
    "Margin mode",
    "Enabled",
)
TICKER, EXCHANGE, SYMBOL, MULTIPLIER, LEVERAGE, MARGIN, ENABLED = range(len(COLUMNS))
MARGIN_MODES = ("cross", "isolated")
DEFAULT = "default"  # the margin-mode list's entry for "" (the [exchange] margin mode)
Index = QModelIndex | QPersistentModelIndex


def is_perp(symbol: str) -> bool:
    return ":" in symbol  # ccxt names a perpetual's settle currency: BTC/USDT:USDT


def leverage_text(value: Decimal) -> str:
    """A row's leverage as its cell shows it: blank for 0 (the default)."""
    return plain(value) if value > 0 else ""


def parse_row(row: int, cells: list[str], enabled: bool, max_leverage: Decimal) -> SymbolRule:
    """One table row (its cells' texts, stripped) as a SymbolRule; ValueError names the row,
    what is wrong and how to fix it."""
    tv, exchange, symbol, multiplier, leverage, margin = cells[:ENABLED]
    where = f"row {row + 1}" + (f" ({tv})" if tv else "")
    if not (tv and exchange and symbol):
        raise ValueError(f"{where}: ticker, exchange and market symbol are needed")
    try:
        factor = Decimal(multiplier or "1")
    except InvalidOperation:
        raise ValueError(f"{where}: the multiplier is not a number") from None
    if not factor.is_finite() or factor <= 0:
        raise ValueError(f"{where}: the multiplier must be more than 0")
    lever = parse_leverage(where, leverage, max_leverage)
    margin = "" if margin == DEFAULT else margin.lower()
    if margin not in ("", *MARGIN_MODES):
        raise ValueError(f'{where}: margin mode "{margin}" is not one: pick cross or isolated')
    if (lever or margin) and not is_perp(symbol):
        what = "leverage" if lever else "a margin mode"
        quote = symbol.partition("/")[2]
        perp = f"{symbol}:{quote}" if quote else "like BTC/USDT:USDT"
        raise ValueError(
            f"{where}: {symbol} is a spot market, where {what} means nothing: clear it, or "
            f"map to the perpetual ({perp})"
        )
    return SymbolRule(tv, exchange.lower(), symbol, factor, enabled, lever, margin)


def parse_leverage(where: str, text: str, cap: Decimal, blank: str = "the default") -> Decimal:
    """A typed leverage ("3", "3x", blank or 0 for the default); ValueError says the fix."""
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text.lower().removesuffix("x").removesuffix("×").strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(
            f'{where}: leverage "{text}" is not a number: type one like 3 (for 3×), or leave '
            f"it blank for {blank}"
        )
    if value == 0:
        return value
    if value < 1:
        raise ValueError(
            f"{where}: leverage {plain(value)} is below 1×: type 1 or more, or leave it blank "
            f"for {blank}"
        )
    if cap > 0 and value > cap:
        raise ValueError(
            f"{where}: leverage {plain(value)}× is above the risk limit max_leverage "
            f"{plain(cap)}×: lower it, or raise Max leverage on the Risk tab"
        )
    return value


def default_texts(exchange: ExchangeSettings) -> dict[int, str]:
    """What an empty leverage / margin-mode cell falls back to, in words."""
    lever = f"{plain(exchange.leverage)}×" if exchange.leverage > 0 else "exchange's own"
    margin = exchange.margin_mode or "exchange's own"
    return {LEVERAGE: f"default: {lever}", MARGIN: f"default: {margin}"}


SPOT_TEXT = "none (spot)"  # an empty leverage / margin cell on a spot market


class DefaultsDelegate(QStyledItemDelegate):
    """An empty cell shows the default in the placeholder colour (on a spot market: that
    there is none); the margin-mode column is edited from a list (default, cross, isolated)."""

    def __init__(self, defaults: Callable[[], dict[int, str]], parent: QWidget) -> None:
        super().__init__(parent)
        self._defaults = defaults

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        if not option.text and index.column() in (LEVERAGE, MARGIN):
            symbol = str(index.sibling(index.row(), SYMBOL).data() or "")
            spot = symbol.strip() and not is_perp(symbol)
            option.text = SPOT_TEXT if spot else self._defaults().get(index.column(), "")
            colour = option.palette.color(QPalette.ColorRole.PlaceholderText)
            option.palette.setColor(QPalette.ColorRole.Text, colour)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        if index.column() != MARGIN:
            return super().createEditor(parent, option, index)
        editor = QComboBox(parent, objectName="marginModeEditor")
        editor.addItems([DEFAULT, *MARGIN_MODES])
        # A choice is made at once, as a person expects from a list, not on leaving it.
        editor.activated.connect(lambda: self.commitData.emit(editor))
        return editor

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentText(index.data() or DEFAULT)
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, QComboBox):
            text = editor.currentText()
            model.setData(index, "" if text == DEFAULT else text, Qt.ItemDataRole.EditRole)
        else:
            super().setModelData(editor, model, index)
