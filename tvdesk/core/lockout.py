"""Lock out clients that keep failing authentication, without ever blocking good alerts.

The limiter only counts failures; the server asks it before answering a *failed* attempt,
so a correctly authenticated alert from a locked-out address (TradingView sends everyone's
alerts from a few shared addresses) still goes through.

Failures count per network (/24 IPv4, /64 IPv6: :func:`tvdesk.core.network.network_of`),
not per address, so a client cannot escape the lockout by hopping between the addresses
its host or provider gives it.
"""

import math
from collections import OrderedDict, deque

from tvdesk.core.network import network_of


class FailedAuthLimiter:
    """Failed authentications per client network in a sliding window (default 60 s)."""

    def __init__(self, limit: int, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        # Keyed by network; least recently failing first, so eviction and pruning work from
        # the front. Only the newest `limit` failures matter: the lockout ends when the
        # oldest of them leaves the window, which bounds memory per network too.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def record_failure(self, client: str, now: float) -> None:
        """Count one failed authentication from client (an address) at now."""
        if self.limit <= 0:
            return
        self._forget_idle(now)
        network = network_of(client)
        failures = self._failures.pop(network, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
        failures.append(now)
        self._failures[network] = failures
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def retry_after(self, client: str, now: float) -> int | None:
        """None while client's network may try again; else whole seconds (>= 1) until it may."""
        if self.limit <= 0:
            return None
        network = network_of(client)
        failures = self._failures.get(network)
        if failures is None:
            return None
        self._prune(failures, now)
        if len(failures) < self.limit:
            if not failures:
                del self._failures[network]
            return None
        return max(1, math.ceil(failures[0] + self.window_s - now))

    def _prune(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()

    def _forget_idle(self, now: float) -> None:
        # A client at the front failed least recently; once its newest failure has left the
        # window, nothing about it counts any more.
        while self._failures:
            client, failures = next(iter(self._failures.items()))
            if failures[-1] > now - self.window_s:
                break
            del self._failures[client]
