"""No secret reaches a log line, whoever logs it."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

from bot.logging_setup import configure_logging


def test_secrets_are_redacted_in_messages_arguments_and_tracebacks() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(logging.DEBUG, ["panel-key-123", "999:bot-token"])
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("anything.httpx.like")
    log.warning("POST https://api.telegram.org/bot999:bot-token/getMe")
    log.info("sent key=%s", "panel-key-123")
    try:
        raise RuntimeError("failed with panel-key-123")
    except RuntimeError:
        log.exception("boom")
    output = stream.getvalue()
    root.handlers[:], root.level = saved_handlers, saved_level
    assert "panel-key-123" not in output and "999:bot-token" not in output
    assert "getMe" in output and "bot***/getMe" in output
    assert "sent key=***" in output
    assert "RuntimeError: failed with ***" in output


def test_json_lines_carry_the_fields_and_no_secret() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(logging.DEBUG, ["panel-key-123", "999:bot-token", "hook-secret"], "json")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("bot.somewhere")
    log.info("sent key=%s to «%s»\nsecond line", "panel-key-123", "Аня")
    try:
        raise RuntimeError("failed with hook-secret and 999:bot-token")
    except RuntimeError:
        log.exception("boom")
    log.warning("stack", stack_info=True)
    output = stream.getvalue()
    root.handlers[:], root.level = saved_handlers, saved_level
    lines = output.splitlines()
    assert len(lines) == 3  # one object a line, newlines inside escaped
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "sent key=*** to «Аня»\nsecond line"
    assert (first["level"], first["logger"]) == ("INFO", "bot.somewhere") and "exc" not in first
    assert first["time"].endswith("Z") and datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["message"] == "boom" and second["level"] == "ERROR"
    assert second["exc"].startswith("Traceback") and "RuntimeError: failed with *** and ***" in second["exc"]
    assert "stack" in third and "test_json_lines_carry_the_fields_and_no_secret" in third["stack"]
    assert "panel-key-123" not in output and "999:bot-token" not in output and "hook-secret" not in output
