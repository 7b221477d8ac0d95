"""Logging that can never leak a secret.

Every record passes a filter that replaces the secrets (the panel key, the bot token, the
webhook secret) with `***`, whatever library wrote it (httpx logs request URLs, and Bot API URLs
contain the token). Lines are text, or one JSON object each (`LOG_FORMAT=json`) for a log
collector; the filter runs before either formatter, so both get the redacted record.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter does not print the raw one.
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, "***")
            record.exc_text = text
            record.exc_info = None
        if record.stack_info:
            for secret in self._secrets:
                record.stack_info = record.stack_info.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, and exc (the
    traceback) or stack when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:  # (without the filter: RedactSecrets renders it)
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        # ensure_ascii off: customers' names and texts stay readable; a newline is escaped either way.
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: int, secrets: Iterable[str], log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO (Bot API URLs carry the token); keep only its warnings.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # A poll cycle longer than its interval is expected under load (the job coalesces); APScheduler
    # would warn about every skipped tick.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.ERROR)
