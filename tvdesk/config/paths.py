"""Where tvdesk's files live (settings, journal, lock, logs), and the local URL of its
listener."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def journal_file(self) -> Path:
        return self.data_dir / "journal.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "tvdesk.lock"

    @property
    def engine_file(self) -> Path:
        return self.data_dir / "engine.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "tvdesk.log"

    def ensure(self) -> None:
        for directory in (self.config_dir, self.data_dir, self.log_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a listener on ``host``:``port`` at (a wildcard: loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


def resolve_paths(data_dir: Path | None) -> Paths:
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        return Paths(config_dir=root, data_dir=root, log_dir=root / "logs")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir("tvdesk", appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir("tvdesk", appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir("tvdesk", appauthor=False)),
    )
