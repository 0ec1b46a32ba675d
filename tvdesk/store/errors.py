"""The one error the journal raises: it could not open, migrate or take a write."""

from __future__ import annotations


class JournalError(Exception):
    """The journal could not take a write (disk full, locked, closed)."""
