"""`python -m bot`: start the bot (long polling, or a webhook with WEBHOOK_URL) until Ctrl+C or SIGTERM."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.http_server import HttpServerError
from bot.logging_setup import configure_logging
from bot.settings import ConfigError, load_settings
from bot.webhook import WebhookRefused, serve_webhook


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level_number, settings.secrets(), settings.log_format)
    try:
        application = build_application(settings, freeze_heap=True)
        if settings.webhook:
            asyncio.run(serve_webhook(application, settings))
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except (HttpServerError, WebhookRefused) as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except InvalidToken:
        print("Configuration error: TELEGRAM_BOT_TOKEN was refused by the Bot API server. "
              "Copy the token from @BotFather again.", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"Configuration error: cannot open the database at {settings.database_path} ({exc}). "
              "Check DATABASE_URL and that the folder is writable.", file=sys.stderr)
        return 2
    except NetworkError as exc:
        print(f"Cannot reach the Bot API server at {settings.telegram_base_url} ({exc}). "
              "Check the network or TELEGRAM_BASE_URL.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
