"""Floor 8 — the window (PySide6): the only package that imports Qt. Talks to the engine
through its public methods and event stream; ``tvdesk`` starts it via app.run."""
