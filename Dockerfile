# tvdesk headless, for a server that runs 24/7 (docs/server.md).
#
#     docker build -t tvdesk .
#     docker run --rm tvdesk --self-test    # the image proved, offline: "self-test ok ..."
#     docker run -d --name tvdesk -v tvdesk-data:/data \
#         -e TVDESK_WEBHOOK_SECRET_FILE=/run/secrets/webhook_secret ... tvdesk
#
# No window and no Qt: `tvdesk --headless` never imports it (nor does the entry point's
# `--headless --self-test`), so neither PySide6 nor Qt's system libraries are in the image. Settings, journal and logs live in the /data volume;
# secrets come from TVDESK_* / TVDESK_*_FILE (container secrets), never from the image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY scripts/server_install.sh scripts/
COPY tvdesk/ tvdesk/
# The locked versions of tvdesk's own dependencies, less the window's (scripts/server_install.sh).
RUN sh scripts/server_install.sh /opt/tvdesk /src

FROM python:3.11-slim
LABEL org.opencontainers.image.title="tvdesk" \
      org.opencontainers.image.description="TradingView alerts to exchange orders, headless" \
      org.opencontainers.image.licenses="Apache-2.0"
# A user of its own, never root: the journal and settings belong to it alone (0700 / 0600).
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin tvdesk \
    && mkdir -m 0700 /data \
    && chown tvdesk:tvdesk /data
COPY --from=build /opt/tvdesk /opt/tvdesk
ENV PATH=/opt/tvdesk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8787

# /health on the port the running engine wrote to /data/engine.json (so a changed
# [listener] port still works); python's urllib, so the image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import json,urllib.request as u; p=json.load(open('/data/engine.json'))['port']; u.urlopen(f'http://127.0.0.1:{p}/health', timeout=4)"]

# SIGTERM (docker stop) drains the worker and closes the journal within 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tvdesk", "--headless", "--data-dir", "/data"]
# The listener stays on the container's loopback and the built-in ngrok tunnel takes the
# alerts in. Behind a reverse proxy instead: CMD ["--host", "0.0.0.0", "--no-tunnel"]
# (compose.yaml's "proxy" profile), with [listener] trusted_proxies set; see docs/server.md.
CMD []
