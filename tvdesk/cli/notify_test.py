"""``tvdesk notify-test``: send one line to each notification channel settings.toml sets up
and print, per channel, whether it arrived at the API and, if not, why. Its tokens are read
like the engine reads them (cli.unlock: the encrypted secrets file too)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tvdesk.cli.common import fail
from tvdesk.cli.unlock import open_keystore
from tvdesk.support import exits


def cmd_notify_test(data_dir: Path | None) -> int:
    from tvdesk.config.keystore import (
        DISCORD_WEBHOOK_URL,
        NTFY_TOKEN,
        TELEGRAM_BOT_TOKEN,
        KeystoreError,
        service_name,
    )
    from tvdesk.config.load import SettingsError, load_settings
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.secret_stores import SecretsFileError
    from tvdesk.notify.check import send_test

    paths = resolve_paths(data_dir)
    if not paths.settings_file.exists():
        return fail(
            f"no settings file at {paths.settings_file}: start tvdesk once, then set up "
            "[notify] in it (docs/notify.md)"
        )
    try:
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        return fail(str(exc))
    notify = settings.notify
    wanted = {
        TELEGRAM_BOT_TOKEN: notify.telegram_chat_id,
        DISCORD_WEBHOOK_URL: notify.discord,
        NTFY_TOKEN: notify.ntfy_topic,
    }
    needs = [name for name, set_up in wanted.items() if set_up]
    try:
        keystore = open_keystore(service_name(data_dir), paths.config_dir, os.environ, needs=needs)
    except (KeystoreError, SecretsFileError) as exc:
        return fail(str(exc))
    outcomes = asyncio.run(send_test(notify, keystore))
    for outcome in outcomes:
        print(outcome)
    tried = [o for o in outcomes if o.sent is not None]
    if not tried:
        return fail("no notification channel is set up in [notify] (docs/notify.md)")
    return exits.OK if all(o.sent for o in tried) else exits.FAILED
