"""Runs before every other handler: records users, keeps strangers out of a private bot and
banned users out of any bot."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import texts
from bot.state import app_state
from handlers.common import answer, reply


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    customers = app_state(context).customers
    if customers.is_banned(user.id):  # told once, then ignored: no order, no button works
        if update.callback_query is not None:
            await answer(update)
        if await customers.ban_notice_due(user.id) and update.effective_chat is not None:
            await reply(update, texts.BANNED)
        raise ApplicationHandlerStop
    if not customers.may_use(user.id):
        await answer(update)
        if update.effective_chat is not None and update.effective_chat.type == "private":
            await reply(update, texts.PRIVATE_BOT.format(user_id=html.escape(str(user.id))))
        raise ApplicationHandlerStop
    await customers.record(user.id, user.first_name, user.username, user.language_code)
