"""Floor 2 — the trader's settings (settings.toml, typed and validated) and secrets (OS
keyring, environment). Imports core and support."""
