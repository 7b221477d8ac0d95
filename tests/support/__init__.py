"""Test support, one concern per module:

- fake_telegram: the strict fake Bot API server and the users who write and press on it;
- telegram_html: Telegram's HTML parse mode, as the fake checks every formatted text;
- bot_runner: the real Application started and stopped by hand, as run_polling() would;
- shop: a shop (bot + fake Telegram + sandbox panel) and a Customer who types and taps;
- orders: placed orders written straight into a database;
- ledger_check: the ledger's invariants, checked after every shop test.
"""
