"""Floor 7 — notifications to the trader's phone (Telegram, Discord, ntfy): engine events as
short lines, sent in the background. Imports the engine and below, never gui or cli."""
