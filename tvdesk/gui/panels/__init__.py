"""One module per tab of the window (Connect, Log, Positions, Symbols, Risk, Secrets, mode)."""
