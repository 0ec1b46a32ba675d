"""An alert on its way through the worker: the job queued for it, the trail of its steps
(each with its timing), and the decision that ends it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tvdesk.brokers.base import Broker, Execution
from tvdesk.core.alert.fields import Alert, alert_from_dict
from tvdesk.core.symbols import Mapping

# The origin of the alerts the kill switch's flatten makes: they pass the kill switch and
# every risk limit, and trade the position's own market. Only the engine writes an origin
# (``EngineCommands.flatten``, kept in the journal's ``origin`` column); nothing a request
# carries (a header, a field, its address) can set one.
ORIGIN_FLATTEN = "flatten"


@dataclass
class Job:
    """An accepted alert waiting for the worker."""

    alert_id: str
    alert: dict[str, Any]
    client: str
    received_at: float
    trail: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    replay_of: str | None = None
    mode: str | None = None  # the engine's mode when it was accepted (None: before v2)
    origin: str | None = None  # ORIGIN_FLATTEN, or None for every alert a request brought
    _parsed: Alert | None = field(default=None, repr=False, compare=False)
    # The market found when the alert was routed to its chain, with what it was found by.
    _routed: tuple[object, object, Mapping] | None = field(default=None, repr=False, compare=False)

    def parsed(self) -> Alert:
        """The alert's fields as an ``Alert``, built once (routing and deciding both read it)."""
        if self._parsed is None:
            self._parsed = alert_from_dict(self.alert)
        return self._parsed

    def route(self, settings: object, broker: object, mapping: Mapping) -> None:
        """Keep the market routing found with ``settings`` and ``broker``, for deciding."""
        self._routed = (settings, broker, mapping)

    def routed(self, settings: object, broker: object) -> Mapping | None:
        """The market routing found, if with these very settings and broker; else None.

        Deciding maps the symbol again only when the settings were replaced (a reload) or
        the broker changed since: the order then goes where its chain goes.
        """
        if self._routed is None:
            return None
        was_settings, was_broker, mapping = self._routed
        return mapping if was_settings is settings and was_broker is broker else None


@dataclass
class Decision:
    outcome: str  # filled | open | rejected | failed | dry_run | canceled
    reason: str
    execution: Execution | None = None
    broker: Broker | None = None
    exchange: str | None = None


class Trail:
    def __init__(self, job: Job) -> None:
        self.entries = list(job.trail)
        self.latency = dict(job.latency)
        self._t = time.perf_counter()

    def add(self, step: str, ok: bool, detail: str) -> None:
        now = time.perf_counter()
        ms = round((now - self._t) * 1000, 3)
        self._t = now
        self.entries.append({"step": step, "ok": ok, "detail": detail, "ms": ms})
        self.latency[step] = round(self.latency.get(step, 0.0) + ms, 3)
