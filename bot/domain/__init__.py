"""Business rules as plain functions and dataclasses: no Telegram, no SQL, no HTTP."""
