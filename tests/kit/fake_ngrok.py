"""A fake ngrok agent, and the helpers tests use to drive it.

``install_fake_ngrok(dir)`` writes an executable named ``ngrok`` whose shebang is this
interpreter and which runs this file. Used as ``ngrok_path``, it speaks what pyngrok needs:

* ``start --none --log stdout --config FILE`` prints ngrok's logfmt start-up lines and
  serves the agent API on loopback (GET/POST ``/api/endpoints``, GET/DELETE
  ``/api/endpoints/<name>``);
* ``config add-authtoken TOKEN`` saves the token to the config file;
* ``--version`` prints a version.

It also plays ngrok's edge: an endpoint's ``public_url`` is a plain-HTTP loopback address
where it forwards every request to the registered upstream, appending the caller's
address to ``X-Forwarded-For`` the way ngrok does. The internet is simulated by one
header: a request carrying ``X-Test-Client-Addr`` comes "from" that address.

How it behaves is read at each launch from ``behaviour.json`` beside it: a list of
``launches`` (the n-th agent start takes entry n; the last one repeats), each with a
``mode``: ``ok``, ``bad_authtoken`` (error on start, echoing the token like the real
agent), ``no_network`` (never establishes a session), ``silent`` (prints nothing),
``domain_in_use`` (502 on endpoint creation), ``edge_down`` (the public URL answers
502), ``die_after`` (exits ``seconds`` after start) or ``drops`` (its session drops on
``drop_session()`` and comes back on ``restore_session()``). Every invocation and every edge
request is recorded as a JSON line under ``state/`` (argv, pid, where the authtoken came
from, a hash of it, the config file's mode and its other settings: never the token
itself), and so is the body of every endpoint-start request to the agent API.

Like ngrok, it keeps each request through an endpoint for inspection, served at
``GET /api/requests/http`` of its unauthenticated API, unless the config sets
``inspect_db_size: -1`` or the endpoint was started with ``inspect: false``.

The script binds only 127.0.0.1 and exits on SIGTERM, and on its own when its parent
dies (after ``orphan_grace_s``), so a failed test cannot leave agents behind.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import signal
import stat
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}
CLIENT_HEADER = "X-Test-Client-Addr"
FAKE_VERSION = "3.99.0-fake"


# ---------------------------------------------------------------------------- test side


@dataclass
class FakeNgrok:
    """One installed fake agent: its executable and what it has recorded."""

    path: Path
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def configure(self, *launches: dict[str, Any], orphan_grace_s: float = 1.0) -> None:
        """Set how the next agent starts behave (the last entry repeats)."""
        behaviour = {"launches": list(launches) or [{"mode": "ok"}]}
        behaviour["orphan_grace_s"] = orphan_grace_s
        tmp = self.root / "behaviour.json.tmp"
        tmp.write_text(json.dumps(behaviour), encoding="utf-8")
        os.replace(tmp, self.root / "behaviour.json")

    def invocations(self) -> list[dict[str, Any]]:
        return _read_lines(self.state_dir / "invocations.jsonl")

    def agents(self) -> list[dict[str, Any]]:
        """The ``start`` invocations, oldest first."""
        return [i for i in self.invocations() if i["command"] == "start"]

    def drop_session(self) -> None:
        """An agent in ``drops`` mode loses its session now (and keeps trying)."""
        (self.state_dir / "drop").touch()

    def restore_session(self) -> None:
        (self.state_dir / "reconnect").touch()

    def edge_requests(self) -> list[dict[str, Any]]:
        return _read_lines(self.state_dir / "edge.jsonl")

    def endpoint_starts(self) -> list[dict[str, Any]]:
        """Each ``POST /api/endpoints`` the agents got: ``pid`` and the JSON ``body``."""
        return _read_lines(self.state_dir / "endpoint_starts.jsonl")

    def captured_requests(self) -> list[dict[str, Any]]:
        """What each live agent keeps for inspection, read from its API as anyone could."""
        apis = {a["pid"]: a["api_url"] for a in _read_lines(self.state_dir / "apis.jsonl")}
        captured: list[dict[str, Any]] = []
        for pid in self.live_agents():
            with urllib.request.urlopen(f"{apis[pid]}/api/requests/http", timeout=5) as r:
                captured += json.loads(r.read())["requests"]
        return captured

    def live_agents(self) -> list[int]:
        return [a["pid"] for a in self.agents() if pid_alive(a["pid"])]


def install_fake_ngrok(
    directory: Path, *launches: dict[str, Any], name: str = "ngrok"
) -> FakeNgrok:
    """Write the fake agent executable into ``directory`` (one per test: pyngrok keys its
    processes by path)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(executable_text(), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    fake = FakeNgrok(path, directory)
    fake.state_dir.mkdir(exist_ok=True)
    fake.configure(*launches)
    return fake


def executable_text() -> str:
    """The agent script: this interpreter runs this file (no import of tests or tvdesk)."""
    return (
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        "argv = list(sys.argv)\n"
        f"runpy.run_path({str(Path(__file__).resolve())!r}, "
        "init_globals={'AGENT_ARGV': argv}, run_name='__main__')\n"
    )


def pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll a real condition until it holds (returning its value) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------- agent side


def _argv() -> list[str]:
    # runpy puts this file's path in sys.argv[0]; the wrapper hands over the real argv.
    return list(globals().get("AGENT_ARGV") or sys.argv)


def _root() -> Path:
    return Path(_argv()[0]).resolve().parent


def _record(name: str, entry: dict[str, Any]) -> None:
    state = _root() / "state"
    state.mkdir(exist_ok=True)
    line = (json.dumps(entry) + "\n").encode()
    fd = os.open(state / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _behaviour() -> dict[str, Any]:
    try:
        return json.loads((_root() / "behaviour.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"launches": [{"mode": "ok"}]}


def _log(lvl: str, msg: str, **fields: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    extra = "".join(f" {key}={value}" for key, value in fields.items())
    print(f't={stamp} lvl={lvl} msg="{msg}"{extra}', flush=True)


def _option(args: list[str], name: str) -> str | None:
    if name in args:
        i = args.index(name)
        if i + 1 < len(args):
            return args[i + 1]
    return None


def _read_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    import yaml  # the venv has it: pyngrok depends on it

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        return {}


def _authtoken(args: list[str], config: dict[str, Any]) -> tuple[str | None, str | None]:
    if _option(args, "--authtoken"):
        return _option(args, "--authtoken"), "argv"
    token = (config.get("agent") or {}).get("authtoken") or config.get("authtoken")
    if token:
        return str(token), "config"
    if os.environ.get("NGROK_AUTHTOKEN"):
        return os.environ["NGROK_AUTHTOKEN"], "env"
    return None, None


def _watch_parent(grace_s: float) -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        time.sleep(grace_s)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class _Endpoints:
    """The agent's endpoints, their edge servers, and the requests kept for inspection."""

    def __init__(self, inspect_db_size: int) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, ThreadingHTTPServer] = {}
        self.inspect_db_size = inspect_db_size
        self.captured: list[dict[str, Any]] = []

    def capture(self, name: str, method: str, path: str, headers: Any, body: bytes) -> None:
        with self.lock:
            self.captured.append(
                {
                    "id": f"req_{uuid.uuid4().hex}",
                    "tunnel_name": name,
                    "request": {
                        "method": method,
                        "uri": path,
                        "headers": {k: [v] for k, v in headers.items()},
                        "raw": base64.b64encode(body).decode(),
                    },
                }
            )

    def create(self, options: dict[str, Any], mode: str) -> tuple[int, dict[str, Any]]:
        name = str(options.get("name") or f"ep-{uuid.uuid4().hex[:8]}")
        requested = str(options.get("url") or "")
        upstream = str((options.get("upstream") or {}).get("url") or "")
        if mode == "domain_in_use":
            return 502, _already_online(requested or "https://fake.ngrok-free.app")
        host_port = urlsplit(requested).netloc if requested else ""
        port = int(host_port.rsplit(":", 1)[1]) if ":" in host_port else 0
        # ngrok inspects unless the config or the endpoint turns it off.
        inspect = self.inspect_db_size != -1 and options.get("inspect") is not False
        capture = (lambda *request: self.capture(name, *request)) if inspect else None
        try:
            edge = ThreadingHTTPServer(("127.0.0.1", port), _edge_handler(upstream, mode, capture))
        except OSError:
            return 502, _already_online(requested)
        edge.daemon_threads = True
        threading.Thread(target=edge.serve_forever, daemon=True).start()
        public_url = f"http://127.0.0.1:{edge.server_address[1]}"
        item = {
            "id": f"ep_{uuid.uuid4().hex}",
            "name": name,
            "uri": f"/api/endpoints/{name}",
            "url": public_url,
            "public_url": public_url,
            "proto": "https",
            "upstream": {"url": upstream, "protocol": "http1"},
            "metrics": {},
        }
        with self.lock:
            self.items[name] = item
            self.edges[name] = edge
        return 201, item

    def delete(self, name: str) -> bool:
        with self.lock:
            item = self.items.pop(name, None)
            edge = self.edges.pop(name, None)
        if edge is not None:
            threading.Thread(target=edge.shutdown, daemon=True).start()
        return item is not None


def _already_online(url: str) -> dict[str, Any]:
    return {
        "error_code": 103,
        "status_code": 502,
        "msg": "failed to start tunnel",
        "details": {
            "err": f"failed to start tunnel: The endpoint '{url}' is already online. Either\n"
            "1. stop your existing endpoint first, or\n"
            "2. start both endpoints with `--pooling-enabled` to load balance between them."
            "\r\n\r\nERR_NGROK_334\r\n"
        },
    }


def _api_handler(endpoints: _Endpoints, mode: str) -> type[BaseHTTPRequestHandler]:
    class Api(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, code: int, body: dict[str, Any] | None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.rstrip("/")
            if path in ("/api/endpoints", "/api/tunnels"):
                with endpoints.lock:
                    items = list(endpoints.items.values())
                self._reply(200, {"endpoints": items, "uri": "/api/endpoints"})
            elif path.startswith("/api/endpoints/"):
                item = endpoints.items.get(path.rsplit("/", 1)[1])
                self._reply(200 if item else 404, item or {"status_code": 404})
            elif path == "/api/requests/http":
                with endpoints.lock:
                    captured = list(endpoints.captured)
                self._reply(200, {"uri": "/api/requests/http", "requests": captured})
            elif path == "/api":
                self._reply(200, {})
            else:
                self._reply(404, {"status_code": 404})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/api/endpoints":
                self._reply(404, {"status_code": 404})
                return
            length = int(self.headers.get("Content-Length") or 0)
            options = json.loads(self.rfile.read(length) or b"{}")
            _record("endpoint_starts.jsonl", {"pid": os.getpid(), "body": options})
            self._reply(*endpoints.create(options, mode))

        def do_DELETE(self) -> None:
            name = self.path.rstrip("/").rsplit("/", 1)[1]
            self._reply(204 if endpoints.delete(name) else 404, None)

    return Api


def _edge_handler(upstream: str, mode: str, capture: Any | None) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class Edge(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            client = self.headers.get(CLIENT_HEADER) or self.client_address[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in HOP_BY_HOP and k.lower() != CLIENT_HEADER.lower()
            }
            # ngrok appends the address it saw last, after anything the caller sent.
            forwarded = self.headers.get("X-Forwarded-For")
            headers.pop("X-Forwarded-For", None)
            headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
            headers["X-Forwarded-Proto"] = "https"
            _record(
                "edge.jsonl",
                {
                    "method": self.command,
                    "path": self.path,
                    "client": client,
                    "x_forwarded_for": headers["X-Forwarded-For"],
                    "skip_browser_warning": self.headers.get("ngrok-skip-browser-warning"),
                },
            )
            if capture is not None:
                capture(self.command, self.path, self.headers, body)
            if mode == "edge_down":
                self._send(502, {"Content-Type": "text/plain"}, b"ERR_NGROK_3200 endpoint offline")
                return
            try:
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                out = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                conn.close()
            except OSError:
                self._send(502, {"Content-Type": "text/plain"}, b"ERR_NGROK_8012 upstream down")
                return
            self._send(response.status, out, data)

        def _send(self, code: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(code)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    return Edge


def _run_agent(args: list[str], launch: dict[str, Any], grace_s: float) -> int:
    mode = launch.get("mode", "ok")
    config = _read_config(_option(args, "--config"))
    token, _ = _authtoken(args, config)
    if mode == "silent":
        while True:
            time.sleep(1)
    agent_settings = config.get("agent") or config  # v3 nests them; v2 has them at the top
    endpoints = _Endpoints(int(agent_settings.get("inspect_db_size") or 0))
    api = ThreadingHTTPServer(("127.0.0.1", 0), _api_handler(endpoints, mode))
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{api.server_address[1]}"
    _record("apis.jsonl", {"pid": os.getpid(), "api_url": api_url})
    _log("info", "open config file", path=str(_option(args, "--config")), err="nil")
    _log("info", "starting web service", obj="web", addr=f"127.0.0.1:{api.server_address[1]}")
    if mode == "bad_authtoken" or token is None:
        err = (
            "authentication failed: The authtoken you specified does not look like a proper "
            f"ngrok tunnel authtoken.\\nYour authtoken: {token}\\nInstructions to install your "
            "authtoken are on your ngrok dashboard:\\n"
            "https://dashboard.ngrok.com/get-started/your-authtoken\\r\\n\\r\\nERR_NGROK_105\\r\\n"
        )
        _log("eror", "session closing", obj="tunnels.session", err=f'"{err}"')
        # The real agent also tells a terminal, on stderr.
        print(f"ERROR:  authentication failed\nERROR:  Your authtoken: {token}", file=sys.stderr)
        sys.stderr.flush()
        return 1
    if mode == "no_network":
        err = (
            'failed to dial ngrok server with address \\"connect.ngrok-agent.com:443\\": '
            "dial tcp: lookup connect.ngrok-agent.com: no such host"
        )
        while True:
            _log("eror", "failed to reconnect session", obj="csess", id="5f1c", err=f'"{err}"')
            time.sleep(0.3)
    _log("info", "client session established", obj="tunnels.session")
    _log("info", "tunnel session started", obj="tunnels.session")
    if mode == "die_after":
        time.sleep(float(launch.get("seconds", 1)))
        os._exit(3)
    if mode == "drops":  # the session drops while the agent lives on, and comes back
        state = _root() / "state"
        while not (state / "drop").exists():
            time.sleep(0.05)
        while not (state / "reconnect").exists():
            err = "failed to read message: EOF"
            _log("eror", "session closing", obj="tunnels.session", err=f'"{err}"')
            _log("eror", "failed to reconnect session", obj="csess", id="5f1c", err=f'"{err}"')
            time.sleep(0.1)
        _log("info", "client session established", obj="tunnels.session")
        _log("info", "tunnel session started", obj="tunnels.session")
    while True:
        time.sleep(1)


def main() -> int:
    args = _argv()[1:]
    command = "version" if "--version" in args or args[:1] == ["version"] else (args or [""])[0]
    if args[:2] == ["config", "add-authtoken"]:
        command = "add-authtoken"
    config_path = _option(args, "--config")
    config = _read_config(config_path)
    token, source = _authtoken(args, config)
    config_mode = None
    if config_path and os.path.exists(config_path):
        config_mode = oct(stat.S_IMODE(os.stat(config_path).st_mode))
    behaviour = _behaviour()
    launch_index = 0
    if command == "start":
        launch_index = sum(1 for _ in _agent_starts())
    _record(
        "invocations.jsonl",
        {
            "command": command,
            "t": time.monotonic(),
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "argv": _argv(),
            "authtoken_from": source,
            "authtoken_sha256": hashlib.sha256(token.encode()).hexdigest() if token else None,
            "config": config_path,
            "config_mode": config_mode,
            # What the config file said, the authtoken left out (its hash is above).
            "config_settings": _settings_without_token(config),
            "env_has_authtoken": "NGROK_AUTHTOKEN" in os.environ,
            "env_tvdesk": sorted(k for k in os.environ if k.upper().startswith("TVDESK_")),
        },
    )
    if command == "version":
        print(f"ngrok version {FAKE_VERSION}")
        return 0
    if command == "add-authtoken":
        return _add_authtoken(args, config_path)
    if command != "start":
        print(f"ERROR:  unknown command {command!r}", file=sys.stderr)
        return 2
    launches = behaviour.get("launches") or [{"mode": "ok"}]
    launch = launches[min(launch_index, len(launches) - 1)]
    grace = float(behaviour.get("orphan_grace_s", 1.0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    _watch_parent(grace)
    return _run_agent(args, launch, grace)


def _settings_without_token(config: dict[str, Any]) -> dict[str, Any]:
    settings = {k: v for k, v in config.items() if k != "authtoken"}
    if isinstance(settings.get("agent"), dict):
        settings["agent"] = {k: v for k, v in settings["agent"].items() if k != "authtoken"}
    return settings


def _agent_starts() -> list[dict[str, Any]]:
    return [
        i for i in _read_lines(_root() / "state" / "invocations.jsonl") if i["command"] == "start"
    ]


def _add_authtoken(args: list[str], config_path: str | None) -> int:
    token = args[2] if len(args) > 2 else ""
    path = config_path or str(_root() / "ngrok.yml")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'version: "3"\nagent:\n  authtoken: {json.dumps(token)}\n')
    print(f"Authtoken saved to configuration file: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
