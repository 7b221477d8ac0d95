"""Telegram handlers: one module per conversation or command group, thin on purpose.

Each parses the update, calls a service function, and renders a text from bot.texts.
"""
