"""Floor 0 — the pure domain: alerts, authentication, symbols, sizing, risk, the paper book.
Imports the standard library only; no I/O, no clock of its own (time is passed in)."""
