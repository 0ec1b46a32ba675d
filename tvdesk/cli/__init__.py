"""Floor 9 — the command line: argument parsing, the small commands (export, send-test,
status/kill/resume), and starting the window or the headless engine. May import every floor."""
