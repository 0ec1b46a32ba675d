"""Sending an order exactly once: journal first, look up before any re-send.

1. The order row is committed as ``submitting`` *before* the request leaves, under a
   client order id derived from the alert id. A crash after that point leaves a row
   that says "this order may exist".
2. A timeout, a network error or a 5xx does not mean failure (Binance: "the execution
   status is UNKNOWN and could have been a success"). The order is looked up by its
   client order id, and sent again only once the exchange can no longer create the
   earlier request: Binance refuses a request that arrives later than its receive window
   after its timestamp, so an order not found after that window (plus a margin for clock
   differences) never will be. A duplicate-id refusal proves nothing either way (Binance
   only keeps ids unique among *open* orders): the order is looked up, never re-sent.
3. A re-send carries exactly the params the first send did (reduce-only, position side,
   trigger price), as journaled with the ``submitting`` row, never those of a later
   decision: a closing order re-sent without its reduce-only could open a position.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tvdesk.brokers import ledger
from tvdesk.brokers.contracts import contract_size, in_contracts
from tvdesk.brokers.errors import ExchangeError, OrderRefused, PermanentError, TemporaryError
from tvdesk.brokers.exchange import ExchangeClient, LiveTuning, OrderState, order_state
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.core.clock import Clock
from tvdesk.store.journal import Journal
from tvdesk.support.backoff import backoff

Outcome = tuple[OrderState, list[str]]  # the order as the exchange has it, and trail notes


class InDoubt(Exception):
    """The exchange could not be asked whether the order exists; str(e) says why."""


class OrderSender:
    def __init__(
        self, journal: Journal, clock: Clock, tuning: LiveTuning, circuit: CircuitBreaker
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.tuning = tuning
        self.circuit = circuit
        self.in_flight: set[str] = set()  # client order ids being sent or looked up now

    async def place(
        self, client: ExchangeClient, order: LiveOrder, params: dict[str, Any] | None = None
    ) -> Outcome:
        """Journal, then send; raises ``InDoubt`` or ``PermanentError``."""
        cid = order.client_order_id
        self.in_flight.add(cid)
        try:
            now = self.clock.time()
            market = client.market(order.symbol)
            contracts = in_contracts(market, order.qty) if contract_size(market) else None
            fresh = await self.journal.run(
                lambda c: ledger.insert_submitting(c, order, now, params, contracts)
            )
            if fresh:  # the receive window runs from the request's timestamp: taken after this
                return await self._send(client, order, self.clock.time(), params, resend=False)
            # Sent before, and its outcome never recorded: find it before anything else.
            sent_at = await self.journal.run(lambda c: ledger.sent_at(c, cid))
            return await self.settle(client, order, sent_at or now, fallback=params)
        finally:
            self.in_flight.discard(cid)

    async def send_planned(
        self, client: ExchangeClient, order: LiveOrder, params: dict[str, Any] | None
    ) -> Outcome:
        """Send an order whose ``submitting`` row was journaled, with others, before any of
        them was sent (a reversal's two orders) and never sent since: nothing to look up.
        Its row's time becomes the send's, which a lookup after a crash waits from."""
        cid = order.client_order_id
        self.in_flight.add(cid)
        try:
            stamped = self.clock.time()
            await self.journal.run(lambda c: ledger.mark_sent(c, cid, stamped))
            return await self._send(client, order, self.clock.time(), params, resend=False)
        finally:
            self.in_flight.discard(cid)

    async def settle(
        self,
        client: ExchangeClient,
        order: LiveOrder,
        sent_at: float,
        *,
        fallback: dict[str, Any] | None = None,
    ) -> Outcome:
        """An order in doubt: the exchange's copy if there is one, else (absent) send it
        again with the params journaled with it (``fallback`` for a row from before v6)."""
        notes: list[str] = []
        found = await self.lookup(client, order, sent_at, notes)
        if found is not None:
            return found, [*notes, f"found {order.client_order_id} at {client.id}"]
        params = await self._params_sent(client, order, fallback)
        state, more = await self._send(client, order, sent_at, params, resend=True)
        return state, [*notes, *more]

    async def _params_sent(
        self, client: ExchangeClient, order: LiveOrder, fallback: dict[str, Any] | None
    ) -> dict[str, Any]:
        cid = order.client_order_id
        kept = await self.journal.run(lambda c: ledger.sent_params(c, cid))
        if kept is not None:
            return kept
        if fallback is not None:
            return fallback
        spot = contract_size(client.market(order.symbol)) is None
        if spot and order.order_type in ("market", "limit"):
            return {}  # an alert's own spot order goes with none
        raise PermanentError(
            f"order {cid} was journaled by an older tvdesk that did not keep what it was sent "
            "with (reduce-only, position side, trigger price), so it is not sent again; "
            "nothing was placed: send the alert again"
        )

    async def _send(
        self,
        client: ExchangeClient,
        order: LiveOrder,
        sent_at: float,
        params: dict[str, Any] | None,
        *,
        resend: bool,
    ) -> Outcome:
        notes: list[str] = []
        last = "no answer"
        delays = backoff(self.tuning.backoff_base_s, self.tuning.backoff_max_s)
        cid = order.client_order_id
        order_type = "limit" if order.order_type == "limit" else "market"
        for attempt in range(self.tuning.retries + 1):
            if resend or attempt:
                if self.circuit.is_open:
                    raise InDoubt(f"live execution paused ({self.circuit.reason})")
                marked = self.clock.time()
                await self.journal.run(lambda c, t=marked: ledger.mark_sent(c, cid, t))
                sent_at = self.clock.time()
            try:
                reply = await client.create(
                    order.symbol, order_type, order.side, order.qty, order.price, cid, params
                )
            except TemporaryError as exc:
                self.circuit.failure(str(exc))
                last = str(exc)
                notes.append(f"attempt {attempt + 1}: {exc}; looking {cid} up")
                found = await self.lookup(client, order, sent_at, notes)
                if found is not None:
                    return found, [*notes, f"found {cid} at {client.id}: placed once"]
                notes.append(f"{cid} is not at {client.id}: nothing was placed")
                if attempt < self.tuning.retries:
                    await asyncio.sleep(next(delays))
                continue
            except OrderRefused as exc:
                if not exc.duplicate:
                    raise
                found = await self.lookup(client, order, sent_at, notes, wait=False)
                if found is not None:
                    return found, [*notes, f"{client.id} knew {cid} already: recorded it"]
                raise OrderRefused(
                    f"{exc}; no order {cid} was found there, so it was not sent again"
                ) from None
            self.circuit.success()
            return await self.complete(client, order, reply), notes
        raise PermanentError(
            f"{client.id} did not take the order in {self.tuning.retries + 1} attempts "
            f"(last: {last}); nothing was placed"
        )

    async def lookup(
        self,
        client: ExchangeClient,
        order: LiveOrder,
        sent_at: float,
        notes: list[str],
        *,
        wait: bool = True,
        order_id: str | None = None,
    ) -> OrderState | None:
        """The exchange's copy of the order; None when it has none.

        With ``wait`` a None is final: it waits until the order could no longer appear.
        ``order_id``: the exchange's id for it, as recorded (where no client id is kept).
        """
        deadline = sent_at + client.settle_s  # the exchange's own window (``venues``)
        delays = backoff(self.tuning.backoff_base_s, self.tuning.backoff_max_s)
        failures = 0
        while True:
            asked_at = self.clock.time()
            try:
                found = await client.find(order.client_order_id, order.symbol, sent_at, order_id)
            except TemporaryError as exc:
                self.circuit.failure(str(exc))
                failures += 1
                if failures > self.tuning.retries or self.circuit.is_open:
                    raise InDoubt(f"{client.id} could not be asked ({exc})") from None
                await asyncio.sleep(next(delays))
                continue
            except PermanentError as exc:
                raise InDoubt(f"the order could not be looked up ({exc})") from None
            self.circuit.success()
            if found is not None:
                return await self.complete(client, order, found)
            if not wait or asked_at >= deadline:
                return None
            notes.append(f"not found yet; asking again when {client.id} can no longer create it")
            await asyncio.sleep(max(0.0, deadline - self.clock.time()))

    def conclusive(self, client: ExchangeClient, sent_at: float) -> bool:
        """Whether an order sent at ``sent_at`` and not found now never will be."""
        return self.clock.time() >= sent_at + client.settle_s

    async def complete(
        self, client: ExchangeClient, order: LiveOrder, reply: dict[str, Any]
    ) -> OrderState:
        """The reply, completed by a lookup (status, amounts) or the trades (fee) if short."""
        state = order_state(reply)
        with contextlib.suppress(ExchangeError):  # then it is recorded as far as it is known
            if not state.complete:
                found = await client.find(
                    order.client_order_id, order.symbol, self.clock.time(), state.exchange_order_id
                )
                if found is not None:
                    reply, state = found, order_state(found)
            if state.filled and state.fee is None:
                state = order_state(await client.fee_from_trades(reply, order.symbol))
        return state
