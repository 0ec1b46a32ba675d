"""Floor 3 — the SQLite journal: schema and migrations, the group-commit writer, read-only
queries and export. Imports core, support and config."""
