-- The language a user chose with /language (a locale of bot/locales, e.g. ru or pt_BR); NULL: none
-- chosen, Telegram's language_code decides.
ALTER TABLE users ADD COLUMN language TEXT;

-- A queued message stored by name with its parameters (JSON; bot/texts.py `Formatted`), rendered
-- in the recipient's language when it is sent; `text` keeps it in the source language (the log,
-- the admins). NULL: a message written once for everyone (a broadcast, an older row).
ALTER TABLE notifications ADD COLUMN template TEXT;
