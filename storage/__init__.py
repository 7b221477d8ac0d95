"""The bot's SQLite database: connection, numbered migrations and repositories.

Knows no Telegram types and no panel protocol: repositories take and return plain values.
"""
