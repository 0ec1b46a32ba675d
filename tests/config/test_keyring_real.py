"""The keyring path itself, against a real Secret Service (gnome-keyring) on D-Bus.

Every other test uses an in-memory keyring; this one proves the real backend
stores the webhook secret, a second process reads the same one back, and the
CLI (with no TVDESK_* variables) finds it there to sign its alert.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Secret Service is the Linux keyring"
)

SESSION_TIMEOUT_S = 90


def test_webhook_secret_lives_in_the_real_keyring(tmp_path: Path) -> None:
    assert shutil.which("dbus-run-session"), "make test installs dbus (scripts/sysdeps.sh)"
    assert shutil.which("gnome-keyring-daemon"), "make test installs gnome-keyring"
    data = tmp_path / "data"
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            import json, sys, time
            from pathlib import Path
            import keyring
            from tvdesk.config.keystore import Keystore, service_name

            data = Path(sys.argv[2])
            store = Keystore(service_name(data), env={})
            if sys.argv[1] == "make":
                secret = store.ensure_webhook_secret()
                print(json.dumps({"backend": type(keyring.get_keyring()).__module__,
                                  "secret": secret}))
            else:
                print(json.dumps({"secret": store.get("webhook_secret"),
                                  "source": store.source("webhook_secret")}))
            """
        )
    )
    script = tmp_path / "session.sh"
    script.write_text(
        textwrap.dedent(
            f"""\
            set -e
            export HOME={home} XDG_DATA_HOME={home}/data XDG_RUNTIME_DIR={home}/run
            printf 'tvdesk-test-unlock' | gnome-keyring-daemon --unlock --components=secrets \\
                >/dev/null
            {sys.executable} {probe} make {data}
            {sys.executable} {probe} read {data}
            {sys.executable} -m tvdesk send-test --data-dir {data} --url http://127.0.0.1:9/ \\
                || true
            """
        )
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", str(script)],
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT_S,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    made, read = json.loads(lines[0]), json.loads(lines[1])
    assert made["backend"] == "keyring.backends.SecretService"
    assert len(made["secret"]) >= 43
    assert read == {"secret": made["secret"], "source": "keyring"}
    # The CLI found the secret in the keyring too: it got as far as sending.
    assert "could not reach http://127.0.0.1:9/webhook" in result.stderr
    assert made["secret"] not in result.stderr
