"""The engine's own error: it cannot start, or a command cannot be done; the message says
why and what to do."""


class EngineError(Exception):
    """The engine cannot start; the message says why and what to do."""
