"""Every dialogue, its steps, and the one rule for leaving them.

A dialogue is a multi-step interaction whose state is stored per user (bot/dialogue.py): the
order (handlers/ordering.py), a top-up (handlers/topup.py), an admin's question (the prompts
of the admin screens, handlers/admin_base.py) and a customer's payment question (/paysupport,
handlers/payments.py). DIALOGUES below lists each one's steps: what a
typed message does at that step, and what a button carrying the dialogue's nonce does.

The rule, the same for every dialogue (`route`, which runs before the menus and screens):
- /cancel, or the Cancel button, ends the open dialogue with that dialogue's one answer
  (without one open: "nothing to cancel").
- A side command (/balance, /help, /paysupport, or the same screens' buttons, or a notice's
  Open order) answers without ending it, with a Continue button under its answer
  (`continue_row`) that shows the open step again. /paysupport then
  waits for the customer's question in a dialogue of its own opened over the open one (an
  aside): once the question is sent or cancelled, the dialogue under it is open again.
- Any other command, and any button that is not the open dialogue's (a menu, an order card,
  another admin screen), ends the open dialogue and then does what it does.
- A message goes to the open dialogue's step; with none open it reaches the menus' catch-all.
- A button of an older dialogue (its nonce is not the open one's), or of one that expired,
  is answered "this menu has expired" (or "already confirmed") and does nothing.
- Every dialogue expires CONVERSATION_TIMEOUT_SECONDS after its last step; a typed answer then
  gets the dialogue's "expired" text. The order announces its own end (`announce_expired`, a job).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import i18n, texts
from bot.dialogue import current
from bot.state import app_state
from bot.update_processor import PerUserUpdateProcessor
from handlers import (
    admin_base,
    admin_broadcast,
    admin_catalogue,
    admin_orders,
    admin_settle,
    admin_sources,
    admin_users,
    ordering,
    payments,
    topup,
)
from handlers.buttons import Button, Cancel, CardAction, Menu, MenuItem, OrderCard, Resume, parse_any
from handlers.common import answer, main_menu, reply, show

log = logging.getLogger(__name__)

MessageStep = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
ButtonStep = Callable[[Update, ContextTypes.DEFAULT_TYPE, Button], Awaitable[None]]
Rows = Callable[[], Sequence[Sequence[tuple[str, str]]]]


@dataclass(frozen=True)
class Step:
    on_message: MessageStep  # a new message in the private chat (text, a photo…)
    on_button: ButtonStep | None = None  # a button carrying the dialogue's nonce (Cancel aside)


@dataclass(frozen=True)
class Dialogue:
    steps: Mapping[str, Step]
    resume: MessageStep  # shows the open step again (Continue)
    resume_label: str  # the Continue button's text
    cancelled: str  # the answer to /cancel and Cancel
    expired: str  # the answer to a message after the dialogue expired
    after: Rows = main_menu  # the buttons under those answers
    timed_out: str | None = None  # sent by the expiry job when the dialogue expires unanswered


SIDE_COMMANDS = frozenset({"/balance", "/help", "/paysupport"})  # answered without leaving the open dialogue
# The same screens as buttons (help's, balance's), and a notice's Open order (the card comes as a
# new message): answered beside the open dialogue too, with Continue under the answer.
SIDE_BUTTONS = frozenset({Menu(MenuItem.HELP), Menu(MenuItem.BALANCE), Menu(MenuItem.PAYSUPPORT)})


def _beside(pressed: Button) -> bool:
    return pressed in SIDE_BUTTONS or (isinstance(pressed, OrderCard) and pressed.action is CardAction.NOTICE)


DIALOGUES: dict[str, Dialogue] = {
    ordering.DIALOGUE: Dialogue(
        steps={ordering.BROWSE: Step(ordering.search, ordering.browse),
               ordering.FIELD: Step(ordering.field_text, ordering.field_button),
               ordering.CONFIRM: Step(ordering.confirm_text, ordering.confirm_button)},
        resume=ordering.resume, resume_label=texts.BUTTON_CONTINUE_ORDER,
        cancelled=texts.ORDER_CANCELLED, expired=texts.ORDER_TIMED_OUT, timed_out=texts.ORDER_TIMED_OUT),
    topup.DIALOGUE: Dialogue(
        steps={topup.STARS_AMOUNT: Step(topup.stars_amount), topup.MANUAL_AMOUNT: Step(topup.manual_amount),
               topup.MANUAL_PROOF: Step(topup.manual_proof)},
        resume=topup.resume, resume_label=texts.BUTTON_CONTINUE_TOPUP,
        cancelled=texts.TOPUP_CANCELLED, expired=texts.TOPUP_EXPIRED),
    admin_base.DIALOGUE: Dialogue(
        steps={admin_users.CREDIT: Step(admin_base.prompt_step(admin_users.credit_answer)),
               admin_users.DEBIT: Step(admin_base.prompt_step(admin_users.debit_answer)),
               admin_orders.PLACED: Step(admin_base.prompt_step(admin_orders.placed_answer)),
               admin_settle.SETTLE: Step(admin_base.prompt_step(admin_settle.settle_amount)),
               admin_broadcast.BROADCAST: Step(admin_base.prompt_step(admin_broadcast.broadcast_text)),
               admin_catalogue.MARKUP: Step(admin_base.prompt_step(admin_catalogue.markup_answer)),
               admin_sources.RENAME: Step(admin_base.prompt_step(admin_sources.rename_answer)),
               admin_sources.RECATEGORISE: Step(admin_base.prompt_step(admin_sources.category_answer)),
               admin_sources.DESCRIBE: Step(admin_base.prompt_step(admin_sources.description_answer)),
               admin_sources.SERVICE_MARKUP: Step(admin_base.prompt_step(admin_sources.markup_answer)),
               admin_sources.MERGE_SEARCH: Step(admin_base.prompt_step(admin_sources.merge_search_answer))},
        resume=admin_base.resume, resume_label=texts.BUTTON_CONTINUE_PROMPT,
        cancelled=texts.PROMPT_CANCELLED, expired=texts.PROMPT_EXPIRED, after=admin_base.home_row),
    # opened over the open dialogue (Session.begin_aside): sent or cancelled, that one is open again
    payments.DIALOGUE: Dialogue(
        steps={payments.QUESTION: Step(payments.question)},
        resume=payments.resume, resume_label=texts.BUTTON_CONTINUE_QUESTION,
        cancelled=texts.PAYSUPPORT_CANCELLED, expired=texts.PAYSUPPORT_EXPIRED,
        after=lambda: [continue_row(), *main_menu()]),
}


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The rule above, for every update of a user (after the access gate)."""
    session = current()
    if update.callback_query is not None:
        await _pressed(update, context)
        return
    message = update.message  # only new messages answer a step: an edited one does not
    if message is None or update.effective_chat is None or update.effective_chat.type != "private":
        return
    text = message.text or ""
    if text.startswith("/"):
        command = text.split()[0].split("@")[0]
        if command == "/cancel":
            await cancel(update, context)
            raise ApplicationHandlerStop
        if command not in SIDE_COMMANDS:
            session.end()  # another command leaves the dialogue, then runs
        return
    if session.name is None:
        return
    dialogue = DIALOGUES.get(session.name)
    if dialogue is None or session.expired or session.step not in dialogue.steps:
        session.end()
        await reply(update, dialogue.expired if dialogue else texts.MENU_EXPIRED,
                    dialogue.after() if dialogue else main_menu())
        raise ApplicationHandlerStop
    await dialogue.steps[session.step].on_message(update, context)
    raise ApplicationHandlerStop


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = current()
    assert update.callback_query is not None
    pressed = parse_any(update.callback_query.data)
    if pressed is None:  # forged, or of a version of the bot long gone
        await answer(update, texts.MENU_EXPIRED)
        raise ApplicationHandlerStop
    nonce = getattr(pressed, "nonce", None)
    if nonce is None:  # a button of a screen of its own: leaving the dialogue for it, unless a side one
        if not _beside(pressed):
            session.end()
        return
    if nonce != session.nonce or not session.is_open():
        if nonce == session.nonce:
            session.end()  # expired
        await answer(update, texts.ALREADY_CONFIRMED if session.confirmed(nonce) else texts.MENU_EXPIRED)
        raise ApplicationHandlerStop
    dialogue = DIALOGUES.get(session.name or "")
    step = dialogue.steps.get(session.step) if dialogue else None
    if isinstance(pressed, Cancel):
        await cancel(update, context)
    elif isinstance(pressed, Resume) and dialogue is not None and step is not None:
        await dialogue.resume(update, context)
    elif step is None or step.on_button is None:
        if step is None:  # stored by a version of the bot that had it
            session.end()
        await answer(update, texts.MENU_EXPIRED)
    else:
        await step.on_button(update, context, pressed)
    raise ApplicationHandlerStop


def continue_row() -> list[tuple[str, str]]:
    """Under a side command's answer: the button that carries on with the open dialogue."""
    session = current()
    dialogue = DIALOGUES.get(session.name or "") if session.is_open() else None
    return [(dialogue.resume_label, Resume(session.nonce).data)] if dialogue else []


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel and the Cancel button: the open dialogue ends, with its own answer."""
    session = current()
    dialogue = DIALOGUES.get(session.name or "") if session.is_open() else None
    session.end_aside()  # an aside (/paysupport's question) gives the dialogue under it back
    if dialogue is None:
        await show(update, texts.NOTHING_TO_CANCEL, main_menu())
    else:
        await show(update, dialogue.cancelled, dialogue.after())


async def announce_expired(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A job: close the dialogues whose time is up; tell those users whose dialogue says so."""
    state, processor = app_state(context), context.application.update_processor
    assert isinstance(processor, PerUserUpdateProcessor)  # bot/app.py builds it so
    for row in await state.dialogues.sweep(processor.turn):
        dialogue = DIALOGUES.get(row.name or "")
        if dialogue is None or dialogue.timed_out is None:
            continue
        try:
            with i18n.reading(await state.customers.locale_of(row.user_id)):
                await context.bot.send_message(row.user_id, dialogue.timed_out)  # type: ignore[arg-type]
        except TelegramError as exc:  # blocked, say: the dialogue is closed all the same
            log.info("could not tell user %s their %s timed out: %s", row.user_id, row.name, exc)
