"""Secrets and credentials out: what is journaled, logged or shown never carries the webhook
secret or an exchange credential, even one pasted into the wrong field.
"""

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from tvdesk.core.alert.fields import is_credential_name
from tvdesk.core.alert.names import is_secret_name

# Any this many characters in a row of a webhook secret are cut out of what is kept: a
# secret half-pasted into a comment, or mistyped by one character, is still nearly the
# secret. Secrets are at least twice as long (MIN_WEBHOOK_SECRET_LEN), and a run this long
# of a random secret turning up by chance in an ordinary value is practically impossible.
SECRET_RUN = 8
REDACTED = "[redacted]"


def redact(obj: Any, secrets: Iterable[str], *, runs: bool = True) -> Any:
    """A copy without secret or credential keys, and with secrets cut out of every string.

    A secret is cut out whole and, unless ``runs`` is False, so is every run of SECRET_RUN
    of its characters: that copy is the one to keep. The parser reads its fields from the
    ``runs=False`` copy, so that a numeric string sharing digits with a hand-made secret
    still reads as the number it is; it cuts runs out of the free-text fields itself.
    """
    clean = tuple(s for s in secrets if s)
    return _redact(obj, clean, _runs_of(clean, SECRET_RUN) if runs else frozenset())


def redact_pair(obj: Any, secrets: Iterable[str]) -> tuple[Any, Any]:
    """``(redact(obj, secrets), redact(obj, secrets, runs=False))`` from one walk.

    The door keeps the first and the parser reads the second. They differ only where a
    run of a secret was cut out of a string; where nothing was cut the second *is* the
    first (the same objects, so neither may be changed in place).
    """
    clean = tuple(s for s in secrets if s)
    return _redact_pair(obj, clean, _runs_of(clean, SECRET_RUN))


def is_hidden_name(key: str) -> bool:
    """Whether a field is dropped by name: a secret alias or a credential-looking name."""
    return is_secret_name(key) or is_credential_name(key)


def _redact(obj: Any, secrets: tuple[str, ...], runs: frozenset[str]) -> Any:
    if type(obj) is str:  # the common case first: an isinstance(Mapping) check is slow
        return _cut_runs(scrub(obj, secrets), runs, SECRET_RUN)
    if isinstance(obj, Mapping):
        return {
            _redact(k, secrets, runs): _redact(v, secrets, runs)
            for k, v in obj.items()
            if not (isinstance(k, str) and is_hidden_name(k))
        }
    if isinstance(obj, list):
        return [_redact(v, secrets, runs) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact(v, secrets, runs) for v in obj)
    if isinstance(obj, str):
        # Substrings too: a secret pasted into a client_ref template must not be journaled.
        return _cut_runs(scrub(obj, secrets), runs, SECRET_RUN)
    return obj


def _redact_pair(obj: Any, secrets: tuple[str, ...], runs: frozenset[str]) -> tuple[Any, Any]:
    if isinstance(obj, str):
        readable = scrub(obj, secrets)
        return _cut_runs(readable, runs, SECRET_RUN), readable
    if type(obj) is dict or isinstance(obj, Mapping):
        kept: dict[Any, Any] = {}
        readable_map: dict[Any, Any] = {}
        same = True
        for k, v in obj.items():
            if isinstance(k, str) and is_hidden_name(k):
                continue
            k_kept, k_read = _redact_pair(k, secrets, runs)
            v_kept, v_read = _redact_pair(v, secrets, runs)
            kept[k_kept] = v_kept
            readable_map[k_read] = v_read
            same = same and k_kept is k_read and v_kept is v_read
        return kept, kept if same else readable_map
    if isinstance(obj, list | tuple):
        pairs = [_redact_pair(v, secrets, runs) for v in obj]
        make = list if isinstance(obj, list) else tuple
        kept_seq = make(k for k, _ in pairs)
        if all(k is r for k, r in pairs):
            return kept_seq, kept_seq
        return kept_seq, make(r for _, r in pairs)
    return obj, obj


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def scrub_runs(text: str, secrets: Iterable[str], run: int = SECRET_RUN) -> str:
    """``text`` with every stretch made of ``run``-character runs of a secret replaced."""
    clean = tuple(s for s in secrets if s)
    return _cut_runs(scrub(text, clean), _runs_of(clean, run), run)


@lru_cache(maxsize=8)
def _runs_of(secrets: tuple[str, ...], run: int) -> frozenset[str]:
    # Cached: the door asks for the same one or two secrets on every request.
    return frozenset(s[i : i + run] for s in secrets for i in range(len(s) - run + 1))


def _cut_runs(text: str, runs: frozenset[str], run: int) -> str:
    positions = len(text) - run + 1
    if positions <= 0 or not runs:
        return text
    # The common case is no hit: look for one the cheaper way round (a short text's own
    # windows in the set, or each run in a long text with C-speed substring search).
    if positions <= len(runs):
        hit = any(text[i : i + run] in runs for i in range(positions))
    else:
        hit = any(r in text for r in runs)
    if not hit:
        return text
    spans: list[list[int]] = []  # merged [start, end) of the characters to cut
    for i in range(positions):
        if text[i : i + run] in runs:
            if spans and i <= spans[-1][1]:
                spans[-1][1] = i + run
            else:
                spans.append([i, i + run])
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], REDACTED]
        last = end
    parts.append(text[last:])
    return "".join(parts)
