"""An in-memory keyring backend, so tests never touch the machine's real keyring."""

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError(f"no entry {username!r} for {service!r}") from None


# Defining a backend registers it for keyring's auto-detection; a test keyring must
# never become the process's default just because this module was imported.
KeyringBackend._classes.discard(MemoryKeyring)
