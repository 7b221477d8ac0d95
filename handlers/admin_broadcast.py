"""/broadcast, for admins: the text (HTML allowed) → a preview, which is also the validation
(Telegram parses it exactly as it will for customers) → Send / Cancel → delivery by the
broadcaster (bot/broadcaster.py), with a progress message and a final report."""

from __future__ import annotations

import html
import logging

from telegram import Message, MessageEntity, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.markup import escape_stray
from bot.domain.progress import progress_bar
from bot.shop.broadcasts import draft_broadcast, drop_draft, send_broadcast
from bot.state import app_state
from handlers.admin_base import admin_id, admin_only, ask, home_row
from handlers.buttons import BroadcastAction, BroadcastDraft, Button
from handlers.common import answer, reply, show
from storage.broadcasts import audience, get_broadcast

log = logging.getLogger(__name__)

BROADCAST = "broadcast"  # the prompt for the text (handlers/dialogues.py)

# Entities a Telegram client adds when the admin formats the text by hand (bold, links…): then
# the formatted text is taken as HTML; otherwise the text is taken as typed HTML.
FORMATTING = {MessageEntity.BOLD, MessageEntity.ITALIC, MessageEntity.UNDERLINE, MessageEntity.STRIKETHROUGH,
              MessageEntity.CODE, MessageEntity.PRE, MessageEntity.TEXT_LINK, MessageEntity.SPOILER,
              MessageEntity.BLOCKQUOTE, MessageEntity.EXPANDABLE_BLOCKQUOTE}


@admin_only
async def broadcast_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    count = len(await audience(state.db, state.settings.admin_ids))
    if not count:
        await show(update, texts.BROADCAST_NOBODY, home_row())
        return
    rows = ask(BROADCAST)
    await show(update, texts.BROADCAST_ASK.format(count=count), rows)


async def broadcast_text(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    state = app_state(context)
    if not message.text:
        await reply(update, texts.BROADCAST_NOT_TEXT)
        return False
    formatted = any(entity.type in FORMATTING for entity in message.entities)
    text = message.text_html if formatted else escape_stray(message.text)
    try:  # the preview is the check: what Telegram refuses here, it would refuse for every customer
        await message.reply_text(text, disable_web_page_preview=True)
    except BadRequest as exc:
        await reply(update, texts.BROADCAST_INVALID.format(error=html.escape(shorten(exc.message, 300))))
        return False
    broadcast_id = await draft_broadcast(state.db, admin_id(update), text)
    count = len(await audience(state.db, state.settings.admin_ids))
    await reply(update, texts.BROADCAST_PREVIEW.format(count=count),
                [[(texts.BUTTON_BROADCAST_SEND.format(count=count),
                   BroadcastDraft(broadcast_id, BroadcastAction.SEND).data),
                  (texts.BUTTON_CANCEL, BroadcastDraft(broadcast_id, BroadcastAction.DROP).data)]])
    return True


@admin_only
async def broadcast_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, BroadcastDraft)
    state = app_state(context)
    broadcast_id, action = pressed.broadcast_id, pressed.action
    broadcast = await get_broadcast(state.db, broadcast_id)
    if broadcast is None or broadcast.state != "draft" or broadcast.admin_id != admin_id(update):
        await answer(update, texts.BROADCAST_GONE)  # a toast: the message may show the progress by now
        return
    if action is BroadcastAction.DROP:
        await show(update, texts.BROADCAST_CANCELLED if await drop_draft(state.db, broadcast_id)
                   else texts.BROADCAST_GONE)
        return
    recipients = await audience(state.db, state.settings.admin_ids)
    progress = await show(update, texts.BROADCAST_PROGRESS.format(
        broadcast_id=broadcast_id, bar=progress_bar(0, len(recipients)), done=0, total=len(recipients), sent=0,
        blocked=0, failed=0))
    if not await send_broadcast(state.db, broadcast_id, admin_id(update), recipients,
                               progress.message_id if progress else None):
        await show(update, texts.BROADCAST_GONE, answered=True)  # cancelled meanwhile
        return
    log.info("admin %s started broadcast %s to %d users", admin_id(update), broadcast_id, len(recipients))
    if state.broadcaster is not None:
        state.broadcaster.wake()
