"""No secret reaches a log line, whoever logs it."""

from __future__ import annotations

import io
import logging

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
