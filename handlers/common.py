"""Small rendering helpers shared by the handlers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError

from bot import texts
from bot.dialogue import current
from bot.update_processor import current_processor
from handlers.buttons import Cancel, Languages, Menu, MenuItem, MyOrders

log = logging.getLogger(__name__)

Button = tuple[str, str]  # (text, callback data): the data from a kind in handlers/buttons.py
Row = list[Button]


def main_menu() -> list[Row]:
    return [[(texts.BUTTON_NEW_ORDER, Menu(MenuItem.NEW_ORDER).data), (texts.BUTTON_MY_ORDERS, MyOrders(0).data)],
            [(texts.BUTTON_BALANCE, Menu(MenuItem.BALANCE).data), (texts.BUTTON_TOPUP, Menu(MenuItem.TOP_UP).data)],
            [(texts.BUTTON_HELP, Menu(MenuItem.HELP).data), (texts.BUTTON_LANGUAGE, Languages().data)]]


def cancel_row() -> Row:
    """The one Cancel button, for the dialogue open in this update."""
    return [(texts.BUTTON_CANCEL, Cancel(current().nonce).data)]


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                 for row in rows if row])


async def show(update: Update, text: str, rows: Sequence[Sequence[Button]] = (), *,
               answered: bool = False) -> Message | None:
    """Edit the message whose button was pressed (answering the query at the same time, unless
    `answered`), or send a new message for a typed one."""
    markup = keyboard(rows) if rows else None
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        await answer(update)
        return await reply(update, text, rows)

    async def edit() -> Message | None:
        try:
            edited = await query.edit_message_text(text, reply_markup=markup,
                                                   disable_web_page_preview=True)
            return edited if isinstance(edited, Message) else None
        except BadRequest as exc:
            if not is_not_modified(exc):
                raise
            return query.message  # the same page pressed twice: nothing to change

    try:
        message = await edit()
    except BadRequest as exc:  # the message is gone or too old to edit: say it in a new one
        log.info("could not edit message (%s); sending a new one", exc)
        message = await reply(update, text, rows)
    if not answered:  # after the content, with low priority: what the customer waits for goes first
        processor = current_processor.get()
        if processor is None:
            await answer(update)
        else:
            processor.defer(answer(update))
    return message


def is_not_modified(exc: TelegramError) -> bool:
    """Telegram's answer to an edit that changes nothing: the message already shows it (benign)."""
    return isinstance(exc, BadRequest) and "message is not modified" in str(exc).lower()


async def replace(update: Update, message: Message | None, text: str,
                  rows: Sequence[Sequence[Button]] = ()) -> Message | None:
    """Put `text` in place of `message`, an earlier reply of ours (a new message when it is gone)."""
    if message is not None:
        try:
            edited = await message.edit_text(text, reply_markup=keyboard(rows) if rows
                                             else None, disable_web_page_preview=True)
            return edited if isinstance(edited, Message) else message
        except BadRequest as exc:
            if is_not_modified(exc):
                return message
            log.info("could not edit message (%s); sending a new one", exc)
    return await reply(update, text, rows)


async def reply(update: Update, text: str, rows: Sequence[Sequence[Button]] = ()) -> Message | None:
    """Send a new message to the chat of the update."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, reply_markup=keyboard(rows) if rows else None,
                                   disable_web_page_preview=True)


async def answer(update: Update, text: str | None = None) -> None:
    """Every callback query is answered, once (Telegram shows a spinner until then)."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text)
        except BadRequest:  # too old to answer: the user has moved on
            log.debug("callback query could not be answered", exc_info=True)
