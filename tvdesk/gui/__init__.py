"""The window (PySide6): the only package that imports Qt; ``tvdesk`` starts it via app.run."""
