"""Pure domain: alert parsing, authentication and other rules; standard library only, no I/O."""
