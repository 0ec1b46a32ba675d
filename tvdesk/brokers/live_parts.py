"""What every live room works with: the exchange connection, the balance cache, the
journal's reader and writer, the order sender and the clock (execute, cancel, reversal)."""

from __future__ import annotations

from tvdesk.brokers.balances import BalanceCache
from tvdesk.brokers.connection import Connection
from tvdesk.brokers.reads import LedgerReader
from tvdesk.brokers.sender import OrderSender
from tvdesk.core.clock import Clock
from tvdesk.store.journal import Journal


class LiveParts:
    def __init__(
        self,
        connection: Connection,
        balances: BalanceCache,
        reader: LedgerReader,
        sender: OrderSender,
        journal: Journal,
        clock: Clock,
    ) -> None:
        self.connection = connection
        self.balances = balances
        self.reader = reader
        self.sender = sender
        self.journal = journal
        self.clock = clock
