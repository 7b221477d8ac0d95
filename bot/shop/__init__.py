"""Use cases the handlers call: catalogue refresh, wallet, placing orders, admin alerts.

They combine the domain rules, storage and the panel client; they know no Telegram update.
"""
