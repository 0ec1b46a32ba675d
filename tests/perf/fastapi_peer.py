"""Seed-002/003 style receiver: FastAPI on uvicorn.

A copy of ../shared/bench/fastapi_peer.py (DESIGN.md, "Quality bars"), only reformatted
for ruff; bench_webhook.py runs it as ``python fastapi_peer.py PORT`` (it needs the
"bench" extra: pip install -e '.[bench]').
"""

import sys

import uvicorn
from common import handle
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/webhook")
async def webhook(request: Request):
    code, body = handle(await request.body(), request.headers.get("x-signature"))
    return JSONResponse(body, status_code=code)


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
