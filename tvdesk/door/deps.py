"""What the webhook door needs from the engine (DoorDeps), and the app's typed keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tvdesk.config.keystore import Keystore
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.store.journal import AlertRecord, Journal
from tvdesk.support.bus import EventBus


@dataclass
class DoorDeps:
    """What the door needs from the engine."""

    settings: Callable[[], Settings]
    keystore: Keystore
    clock: Clock
    journal: Journal
    bus: EventBus
    limiter: FailedAuthLimiter
    new_alert_id: Callable[[], str]
    on_accepted: Callable[[AlertRecord], None]
    mode: Callable[[], str]
    tunnel_status: Callable[[], dict[str, Any]]


DEPS = web.AppKey("deps", DoorDeps)
TRUST_FORWARDED = web.AppKey("trust_forwarded", bool)
