"""`python -m bot`: start the bot (long polling, or a webhook with WEBHOOK_URL) until Ctrl+C or SIGTERM.

`python -m bot migrate-data --from X --to Y`: copy a shop to another (empty) database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.http_server import HttpServerError
from bot.logging_setup import configure_logging
from bot.settings import ConfigError, load_settings
from bot.webhook import WebhookRefused, serve_webhook
from storage.database import Target


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
    except (OSError, sqlite3.Error, SQLAlchemyError) as exc:
        where = Target.parse(settings.database_url).shown()  # never the password
        reason = " ".join(str(exc).split())[:300]
        for secret in settings.secrets():
            reason = reason.replace(secret, "***")
        print(f"Configuration error: cannot open the database at {where} ({reason}). Check DATABASE_URL: "
              "that the folder is writable, or that the PostgreSQL server answers and the user may log in.",
              file=sys.stderr)
        return 2
    except NetworkError as exc:
        print(f"Cannot reach the Bot API server at {settings.telegram_base_url} ({exc}). "
              "Check the network or TELEGRAM_BASE_URL.", file=sys.stderr)
        return 1
    return 0


def migrate_data(argv: list[str]) -> int:
    """`migrate-data --from X --to Y`: storage/transfer.py does the work; this prints it."""
    import argparse

    from storage.transfer import run_migration

    parser = argparse.ArgumentParser(prog="python -m bot migrate-data",
                                     description="Copy a shop to another, empty database (see README).")
    parser.add_argument("--from", dest="source", required=True, metavar="URL",
                        help="the shop's database: sqlite:///data/bot.db or postgresql://…")
    parser.add_argument("--to", dest="target", required=True, metavar="URL",
                        help="the empty database to copy it to")
    parser.add_argument("--batch", type=int, default=1000, help="rows written at a time (default 1000)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return asyncio.run(run_migration(args.source, args.target, batch=args.batch, say=print,
                                     warn=lambda line: print(line, file=sys.stderr)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["migrate-data"]:
        sys.exit(migrate_data(sys.argv[2:]))
    sys.exit(main())
