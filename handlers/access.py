"""Runs before every other handler: records new users and keeps strangers out of a private bot."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot import texts
from bot.state import app_state
from handlers.common import answer, reply
from storage.users import touch_user


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    if not state.may_use(user.id):
        await answer(update)
        if update.effective_chat is not None and update.effective_chat.type == "private":
            await reply(update, texts.PRIVATE_BOT.format(user_id=html.escape(str(user.id))))
        raise ApplicationHandlerStop
    if user.id not in state.known_users:  # one write per user and run, not one per update
        await touch_user(state.db, user.id, user.first_name, user.username, user.language_code)
        state.known_users.add(user.id)


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(TypeHandler(Update, gate), group=-1)
