"""/start and /help."""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.state import app_state
from storage.users import touch_user


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    state = app_state(context)
    await touch_user(state.db, user.id, user.first_name, user.username, user.language_code)
    text = texts.GREETING.format(name=html.escape(user.first_name))
    if state.sandbox:
        text = f"{texts.SANDBOX_BANNER}\n\n{text}"
    await message.reply_text(text, parse_mode=ParseMode.HTML)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.HELP, parse_mode=ParseMode.HTML)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
