"""Floor 6 — the Engine both front-ends drive: start/stop, commands, queries, the worker that
executes alerts, settings hot-reload, the self-test. Imports every floor below, never gui or cli."""
