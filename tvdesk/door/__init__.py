"""Floor 5 — the listeners: the aiohttp webhook app and the loopback control app.
Imports core, support, config and store; the engine is handed down as a small protocol."""
