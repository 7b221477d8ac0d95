"""Runs before every other handler: records users, keeps strangers out of a private bot and
banned users out of any bot."""

from __future__ import annotations

import html
import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import texts
from bot.state import app_state
from handlers.common import answer, reply
from storage.users import claim_ban_notice, mark_seen, touch_user

SEEN_EVERY = 3600.0  # seconds: last_seen_at (the stats' "active") is written at most this often


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    if state.is_banned(user.id):  # told once, then ignored: no order, no button works
        if update.callback_query is not None:
            await answer(update)
        if user.id not in state.ban_told:
            state.ban_told.add(user.id)  # the database knows too, across restarts; this saves a write
            if await claim_ban_notice(state.db, user.id) and update.effective_chat is not None:
                await reply(update, texts.BANNED)
        raise ApplicationHandlerStop
    if not state.may_use(user.id):
        await answer(update)
        if update.effective_chat is not None and update.effective_chat.type == "private":
            await reply(update, texts.PRIVATE_BOT.format(user_id=html.escape(str(user.id))))
        raise ApplicationHandlerStop
    now = time.monotonic()
    if user.id not in state.known_users:  # one write per user and run, not one per update
        await touch_user(state.db, user.id, user.first_name, user.username, user.language_code)
        state.known_users.add(user.id)
        state.seen_at[user.id] = now
    elif now - state.seen_at.get(user.id, now) >= SEEN_EVERY:
        await mark_seen(state.db, user.id)
        state.seen_at[user.id] = now
