"""Where tvdesk's files live (settings, journal, lock, logs), and the local URL of its
listener."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from tvdesk.support import platform

log = logging.getLogger(__name__)

# Files and folders tvdesk writes beside the ones named by Paths: the window's
# preferences, the tunnel's last URL, the ngrok agent (its config holds the authtoken).
# Only these are touched, never anything else a trader keeps in --data-dir.
_OTHER_FILES = ("gui.ini", "tunnel.json")
_OWN_FOLDERS = ("ngrok",)


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

    def tighten(self) -> list[str]:
        """Make tvdesk's folders owner-only (0700) and its files owner-only (0600 for data).

        The journal, settings and logs show the trader's strategy, positions and account:
        no other user of the machine may read them, also when the folder or a file was
        made before with looser modes (an older tvdesk, a copied folder, a umask of 022).
        Returns what was changed, and says so in the log once.
        """
        if not platform.current().has_mode_bits():
            return []  # Windows: its ACLs follow the profile
        changed: list[str] = []
        for path in self._own_paths():
            try:
                st = path.lstat()
                if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                    continue  # a link's target is not ours to change
                before = stat.S_IMODE(st.st_mode)
                os.chmod(path, before & ~0o077)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("could not make %s private: %s", path, exc.strerror or exc)
                continue
            changed.append(f"{path} {before:04o}->{before & ~0o077:04o}")
        if changed:
            log.warning(
                "made tvdesk's files private (other users could read them): %s",
                ", ".join(changed),
            )
        return changed

    def _own_paths(self) -> list[Path]:
        folders = {self.config_dir, self.data_dir, self.log_dir}
        files = [self.settings_file, self.lock_file, self.engine_file]
        journal = self.journal_file
        files += [journal, *(journal.with_name(journal.name + s) for s in _JOURNAL_SIDES)]
        # The log and its rotated copies (tvdesk.log.1, ...).
        files += sorted(self.log_dir.glob(self.log_file.name + "*"))
        for root in (self.config_dir, self.data_dir):
            files += [root / name for name in _OTHER_FILES]
            for name in _OWN_FOLDERS:
                folder = root / name
                if folder.is_dir() and not folder.is_symlink():
                    folders.add(folder)
                    files += [p for p in folder.iterdir() if p.is_file()]
        return [*sorted(folders), *dict.fromkeys(files)]


_JOURNAL_SIDES = ("-wal", "-shm", "-journal")


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
