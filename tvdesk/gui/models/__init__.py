"""Qt item models behind the window's tables (the live alert log)."""
