"""What every peer does per alert, in the style of the seed receivers:
secret or HMAC check, JSON parse, required fields, in-memory de-dup, enqueue.

A copy of ../shared/bench/common.py, only reformatted for ruff (fastapi_peer.py imports it).
"""

import hashlib
import hmac
import json
import os
import queue

SECRET = os.environ.get("TVDESK_WEBHOOK_SECRET", "bench-secret")
seen = set()
work = queue.SimpleQueue()


def handle(raw: bytes, sig: str | None):
    if sig:
        mac = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, sig):
            return 401, {"status": "rejected", "error": "unauthorized"}
    try:
        p = json.loads(raw)
    except ValueError:
        return 400, {"status": "rejected", "error": "invalid_json"}
    if not isinstance(p, dict):
        return 400, {"status": "rejected", "error": "invalid_json"}
    if not sig and not hmac.compare_digest(str(p.get("secret", "")), SECRET):
        return 401, {"status": "rejected", "error": "unauthorized"}
    if not all(k in p for k in ("symbol", "side", "qty")):
        return 422, {"status": "rejected", "error": "invalid_alert"}
    ref = p.get("client_ref")
    if ref in seen:
        return 409, {"status": "rejected", "error": "duplicate"}
    seen.add(ref)
    work.put(p)
    return 200, {"status": "accepted"}
