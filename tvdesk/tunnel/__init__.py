"""Floor 4 — the built-in ngrok tunnel: pyngrok's agent, watched, restarted, explained and
guarded. Imports core, support and config.

pyngrok itself is imported only when a tunnel really starts, so ``--no-tunnel`` and the
window's start-up never pay for it.
"""
