"""What the log's cells say: amounts as a trader reads them."""

from __future__ import annotations

from tvdesk.gui.models.log_model import LogRow


def test_quantities_read_as_numbers_not_exponents():
    assert LogRow("a", 0.0, "x", qty="4E-9").cell(4) == "0.000000004"
    assert LogRow("a", 0.0, "x", qty="1.50000", test=True).cell(4) == "1.5 (test)"
    assert LogRow("a", 0.0, "x", qty="").cell(4) == ""
