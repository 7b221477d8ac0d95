"""What every admin handler shares: the guard, and prompts for actions that need a typed answer
(an amount, a panel order id, a broadcast text…).

For anyone but ADMIN_IDS admin commands and buttons do not exist: commands are registered for
admins only (others get the catch-all's answer to any unknown command), and a forged admin
button gets the answer any unknown button gets.

A button stores a pending prompt in the admin's user_data; the admin's next text message
answers it. A prompt belongs to the screen that asked: any button pressed afterwards (moving to
another screen) drops it, a command drops it (/cancel says so), and it expires after
CONVERSATION_TIMEOUT_SECONDS, so a typed answer never reaches a prompt the admin no longer sees.
The handlers run before every other group, so an answer never reaches the ordering conversation.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import texts
from bot.state import app_state
from handlers import groups
from handlers.common import answer, reply

PROMPT = "admin_prompt"
PROMPT_GROUP = groups.ADMIN_PROMPT  # before the access gate: admins are always let in

Answer = Callable[[Update, ContextTypes.DEFAULT_TYPE, str, Message], Awaitable[bool]]
_ANSWERS: dict[str, Answer] = {}


@dataclass(frozen=True)
class Prompt:
    kind: str  # a key of _ANSWERS
    target: str  # what it is about: a user id, an order id, a category key…
    asked_at: float  # AppState.clock() when asked


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def admin_only(handler: Handler) -> Handler:
    """Runs `handler` for admins; anyone else gets what an unknown button or command gets."""
    @functools.wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or not app_state(context).is_admin(user.id):
            if update.callback_query is not None:
                await answer(update, texts.MENU_EXPIRED)
            return
        await handler(update, context)
    return guarded


def admin_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def args_of(update: Update) -> list[str]:
    """The callback data's parts after the "a:<section>" prefix."""
    data = update.callback_query.data if update.callback_query and update.callback_query.data else ""
    return data.split(":")[2:]


def on_answer(kind: str) -> Callable[[Answer], Answer]:
    """Register the function that takes the answer to prompts of `kind`. It returns True when
    the prompt is settled, False to keep waiting (the answer was invalid and it said why)."""
    def register(function: Answer) -> Answer:
        _ANSWERS[kind] = function
        return function
    return register


def ask(context: ContextTypes.DEFAULT_TYPE, kind: str, target: object = "") -> None:
    """Wait for the admin's next text as the answer to `kind` about `target` (called by the
    button that shows the question, after `_leave_screen` dropped any earlier prompt)."""
    assert context.user_data is not None
    context.user_data[PROMPT] = Prompt(kind, str(target), app_state(context).clock())


async def _dispatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None or context.user_data is None or not app_state(context).is_admin(user.id):
        return
    prompt = context.user_data.get(PROMPT)
    if not isinstance(prompt, Prompt):
        return
    text = message.text or ""
    if text.startswith("/"):  # a command ends the prompt; only /cancel is taken here
        del context.user_data[PROMPT]
        if text.split()[0].split("@")[0] == "/cancel":
            await reply(update, texts.PROMPT_CANCELLED)
            raise ApplicationHandlerStop
        return
    state = app_state(context)
    if state.clock() - prompt.asked_at > state.settings.conversation_timeout_seconds:
        del context.user_data[PROMPT]
        await reply(update, texts.PROMPT_EXPIRED)
        raise ApplicationHandlerStop
    if await _ANSWERS[prompt.kind](update, context, prompt.target, message):
        context.user_data.pop(PROMPT, None)
    raise ApplicationHandlerStop


async def _leave_screen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any button an admin presses leaves the screen that asked: its prompt goes with it (the
    button's own handler, later, may ask anew)."""
    if context.user_data is not None:
        context.user_data.pop(PROMPT, None)


def register(application: Application, admin_ids: frozenset[int]) -> None:  # type: ignore[type-arg]
    admins = filters.User(user_id=admin_ids) & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(admins, _dispatch), group=PROMPT_GROUP)
    application.add_handler(CallbackQueryHandler(_leave_screen), group=PROMPT_GROUP)
