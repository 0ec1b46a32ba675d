"""Floor 1 — small helpers every floor above core may use: logs, timing, the lock file,
atomic writes, backoff, the system clock and the event bus. Imports core only."""
