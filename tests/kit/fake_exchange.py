"""What the loopback exchange fakes share: running, faults, and a tiny matching engine.

A fake subclasses ``FakeExchange`` with its own REST protocol (routes, signatures, reply
shapes); the orders, balances and faults live here. Orders fill against one price per
market: market orders at once, limit orders when the price crosses them, with a fee of
0.1 % in the asset received. A spot market order on a thin book fills only part and the
exchange cancels the rest (``fill``), as Bybit and OKX do with IOC market orders.

Faults are injected per request (``fault``): a status (503), an answer held ``delay_s``
*after* the order was made (past the client's timeout), a hang until the client goes
away, or the exchange's own error code. In process mode (``serve``) a fake prints
``fake <name> on http://127.0.0.1:PORT`` and takes faults at ``POST /fake/fault``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kit.engine_proc import get, post

ROOT = Path(__file__).resolve().parents[2]
FEE_RATE = Decimal("0.001")


class Refused(Exception):
    """The exchange refuses the request with its own code and words."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Fault:
    method: str
    path: str
    kind: str  # status | slow | hang | error
    status: int = 503
    delay_s: float = 0.0
    code: str = ""
    msg: str = ""
    fill: str | None = None  # the order made by this request fills only this much
    times: int = 1


@dataclass
class Spec:
    """One spot market as the fake trades it."""

    base: str
    quote: str
    step: Decimal
    min_qty: Decimal
    tick: Decimal
    min_cost: Decimal


@dataclass
class Order:
    order_id: str
    client_order_id: str
    symbol: str  # the exchange's market id
    side: str  # buy | sell
    kind: str  # market | limit
    qty: Decimal
    price: Decimal
    created_ms: int
    status: str = "new"  # new | partial | filled | canceled | partial_canceled
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    updated_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in ("new", "partial")

    @property
    def average(self) -> Decimal:
        return self.cost / self.filled if self.filled else Decimal(0)


class FakeExchange:
    name = "exchange"

    def __init__(
        self,
        specs: dict[str, Spec],
        *,
        prices: dict[str, str],
        balances: dict[str, str],
        log_path: Path | None = None,
    ) -> None:
        self.specs = specs
        self.prices = {s: Decimal(p) for s, p in prices.items()}
        self.free = {c: Decimal(v) for c, v in balances.items()}
        self.locked: dict[str, Decimal] = {}
        self.log_path = log_path
        self.orders: dict[str, Order] = {}
        self.received: list[dict[str, Any]] = []  # every order request that passed auth
        self.requests: list[dict[str, Any]] = []  # method, path and time of every request
        self.faults: list[Fault] = []
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self._fill_next: Decimal | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    # -- running ---------------------------------------------------------------------

    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults])
        self.routes(app.router)
        app.router.add_post("/fake/fault", self._add_fault)
        app.router.add_get("/fake/received", self._received)
        app.router.add_get("/fake/orders", self._orders)
        app.router.add_get("/fake/requests", self._requests)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        assert site._server is not None
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- test controls -------------------------------------------------------------------

    def fault(self, method: str, path: str, kind: str, **kw: Any) -> None:
        """Inject a fault into the next ``times`` matching requests."""
        self.faults.append(Fault(method.upper(), path, kind, **kw))

    def placed(self, client_order_id: str) -> int:
        """How many order requests with this client order id passed authentication."""
        return sum(1 for r in self.received if r["clientOrderId"] == client_order_id)

    def created(self) -> list[Order]:
        return sorted(self.orders.values(), key=lambda o: int(o.order_id))

    # -- the matching engine --------------------------------------------------------------

    def place(
        self, symbol: str, side: str, kind: str, qty: Decimal, price: Decimal, cid: str
    ) -> Order:
        """A new order (the subclass checked its filters); funds are checked here."""
        oid, now = str(next(self._ids)), _ms()
        order = Order(oid, cid, symbol, side, kind, qty, price, now, updated_ms=now)
        spend, amount = self._hold(order)
        if self.free.get(spend, Decimal(0)) < amount:
            raise self.insufficient()
        self.orders[order.order_id] = order
        self.free[spend] -= amount
        self.locked[spend] = self.locked.get(spend, Decimal(0)) + amount
        fill, self._fill_next = self._fill_next, None
        if kind == "market" or self._crossed(order):
            self._fill(order, self.prices[symbol], fill)
        self._log({"event": "created", "clientOrderId": cid, "orderId": order.order_id})
        return order

    def insufficient(self) -> Refused:
        """The exchange's refusal of an order the account cannot pay for."""
        raise NotImplementedError

    def cancel(self, order: Order) -> None:
        spend, held = self._hold(order)
        left = held * (order.qty - order.filled) / order.qty
        self.locked[spend] -= left
        self.free[spend] += left
        order.status = "partial_canceled" if order.filled else "canceled"
        order.updated_ms = _ms()

    def _hold(self, order: Order) -> tuple[str, Decimal]:
        spec = self.specs[order.symbol]
        if order.side == "sell":
            return spec.base, order.qty
        price = order.price if order.kind == "limit" else self.prices[order.symbol]
        return spec.quote, order.qty * price

    def _crossed(self, order: Order) -> bool:
        last = self.prices[order.symbol]
        return last <= order.price if order.side == "buy" else last >= order.price

    def _fill(self, order: Order, price: Decimal, part: Decimal | None = None) -> None:
        spec = self.specs[order.symbol]
        qty = order.qty if part is None else min(part, order.qty)
        spend, held = self._hold(order)
        self.locked[spend] -= held
        self.free[spend] += held  # given back, then paid for what filled
        cost = qty * price
        if order.side == "buy":
            order.fee, order.fee_asset = qty * FEE_RATE, spec.base
            self.free[spend] -= cost
            self.free[spec.base] = self.free.get(spec.base, Decimal(0)) + qty - order.fee
        else:
            order.fee, order.fee_asset = cost * FEE_RATE, spec.quote
            self.free[spend] -= qty
            self.free[spec.quote] = self.free.get(spec.quote, Decimal(0)) + cost - order.fee
        order.filled, order.cost, order.updated_ms = qty, cost, _ms()
        # A market order on a thin book: the rest is canceled at once (IOC).
        order.status = "filled" if qty == order.qty else "partial_canceled"

    # -- plumbing ----------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path == path and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def error_body(self, code: str, msg: str) -> dict[str, Any]:
        raise NotImplementedError

    def reply(self, body: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append({"method": request.method, "path": request.path, "at": time.time()})
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text="Service Unavailable")
        if fault is not None and fault.kind == "error":
            return self.reply(self.error_body(fault.code, fault.msg))
        if fault is not None and fault.fill is not None:
            self._fill_next = Decimal(fault.fill)
        try:
            response = await handler(request)
        except Refused as exc:
            return self.reply(self.error_body(exc.code, exc.msg), exc.status)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)  # the order exists; the reply comes too late
        if fault is not None and fault.kind == "hang":
            await asyncio.Event().wait()  # until the client goes away
        return response

    def arrived(self, cid: str, params: Any) -> None:
        """Note an order request that passed authentication."""
        entry = {"clientOrderId": cid, "at": time.time(), "params": params}
        self.received.append(entry)
        self._log({"event": "order", "clientOrderId": cid, "at": entry["at"]})

    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fault(body.pop("method"), body.pop("path"), body.pop("kind"), **body)
        return self.reply({"ok": True})

    async def _received(self, _: web.Request) -> web.Response:
        return self.reply(self.received)

    async def _requests(self, _: web.Request) -> web.Response:
        return self.reply(self.requests)

    async def _orders(self, _: web.Request) -> web.Response:
        return self.reply([_plain(asdict(o)) for o in self.created()])

    def _log(self, entry: dict[str, Any]) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")


def _ms() -> int:
    return int(time.time() * 1000)


def ms() -> int:
    return _ms()


def num(value: Decimal) -> str:
    """A decimal the way exchanges print it: plain, no exponent, no trailing zeros."""
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in entry.items()}


def serve(fake: FakeExchange, doc: str) -> None:
    """``python -m tests.kit.fake_<name> --port 0 --log FILE``: the fake as a process."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, help="append every order request here (JSON lines)")
    args = parser.parse_args()
    fake.log_path = args.log

    async def run() -> None:
        url = await fake.start(args.port)
        print(f"fake {fake.name} on {url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


class FakeProcess:
    """``python -m tests.kit.fake_<name>`` on an ephemeral port, its order log in a file."""

    def __init__(self, name: str, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"tests.kit.fake_{name}", "--port", "0", "--log", str(log)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith(f"fake {name} on "), line
        self.url = line.removeprefix(f"fake {name} on ").strip()

    def fault(self, **fault: Any) -> None:
        code, _ = post(f"{self.url}/fake/fault", json.dumps(fault).encode())
        assert code == 200

    def entries(self, event: str = "order") -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == event]

    def received(self) -> list[dict[str, Any]]:
        """Every order request that passed authentication, in order."""
        return get(f"{self.url}/fake/received")[1]  # type: ignore[return-value]

    def requests(self) -> list[dict[str, Any]]:
        """Every request that reached the fake (faulted ones too): method, path, time."""
        return get(f"{self.url}/fake/requests")[1]  # type: ignore[return-value]

    def orders(self) -> list[dict[str, Any]]:
        """Every order the exchange made, oldest first."""
        return get(f"{self.url}/fake/orders")[1]  # type: ignore[return-value]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
