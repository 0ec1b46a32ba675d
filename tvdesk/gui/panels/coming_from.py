""" "I'm coming from …": which product's alert format the Connect panel's message is in, so a
trader migrating from another bridge pastes a message in the syntax they know."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from tvdesk.core.alert.templates import PRODUCTS, TVDESK, MessageTemplate, message_template


class ComingFrom(QWidget):
    """A combo of the products (tvdesk's own JSON first) and the note on what tvdesk reads
    from the chosen one's message."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.combo = QComboBox(objectName="comingFrom")
        for template in PRODUCTS:
            self.combo.addItem(template.label, template.key)
        self.combo.setToolTip(
            "The alert message in the format of the bridge you used before, "
            "with your tvdesk secret in its secret slot"
        )
        label = QLabel("&I'm coming from")
        label.setBuddy(self.combo)
        self.note = QLabel(wordWrap=True, objectName="comingFromNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.combo.currentIndexChanged.connect(self.changed)

        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.combo)
        row.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def product(self) -> str:
        return str(self.combo.currentData())

    def is_tvdesk(self) -> bool:
        return self.product() == TVDESK.key

    def choose(self, product: str) -> None:
        """Pick ``product`` (a template key) as the trader would in the combo."""
        index = self.combo.findData(product)
        if index < 0:
            raise KeyError(f"no alert template for {product!r}")
        self.combo.setCurrentIndex(index)

    def template(self, kind: str) -> MessageTemplate:
        """The chosen product's template; ``kind`` (strategy, position_sync, indicator) only
        selects among tvdesk's own."""
        return message_template(self.product(), kind)

    def show_note(self, template: MessageTemplate, problem: str | None) -> None:
        self.note.setText(template.note + (f"\n⚠ {problem}" if problem else ""))
