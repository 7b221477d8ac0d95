"""Telegram Stars payments as Telegram delivers them: the pre-checkout query (answered within
Telegram's 10 seconds, never queued behind the payer's other updates), the successful payment
(credited once per charge id), the refund notice (which settles a refund whose answer was lost,
or one made outside the bot); and /paysupport, which Telegram requires of bots that take
payments: the terms in short, then the customer's next message goes to the admins (a dialogue
opened over an open order, which is offered again once the question is sent or cancelled).

These run before the access gate: money Telegram took must be credited even if the payer was
banned a second ago; the pre-checkout does its own access check.
"""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    ContextTypes,
)

from bot import texts
from bot.dialogue import current
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros
from bot.domain.timestamps import shown_day
from bot.domain.topup import CheckoutProblem, topup_id_of
from bot.shop.topups import (
    RefundReport,
    Reported,
    receipt_shown,
    record_payment,
    review_checkout,
    settle_reported_refund,
)
from bot.state import app_state
from handlers import ordering
from handlers.buttons import Menu, MenuItem
from handlers.common import Row, cancel_row, reply, show
from storage.topups import star_payments_of_user, topups_of_user

log = logging.getLogger(__name__)

SUPPORT_TEXT_LIMIT = 1500
RECEIPT_FALLBACK_SECONDS = 30  # a receipt the order summary shows goes out by itself if the summary could not
SUPPORT_EVERY = 60  # seconds: one relayed question per customer, so nobody can flood the admins
DIALOGUE, QUESTION = "support", "question"  # /paysupport waits for the question (handlers/dialogues.py)


async def pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.pre_checkout_query
    assert query is not None
    state = app_state(context)
    payer = query.from_user.id
    try:
        if state.is_banned(payer):
            problem: CheckoutProblem | None = CheckoutProblem.BANNED
        elif not state.may_use(payer):
            problem = CheckoutProblem.PRIVATE
        else:
            problem = await review_checkout(state.db, payer, query.invoice_payload, query.currency,
                                            query.total_amount, state.settings.stars_per_unit)
    except Exception:  # whatever broke, Telegram needs an answer: refuse, nothing is charged
        log.exception("could not check a pre-checkout query")
        problem = CheckoutProblem.ERROR
    if problem is None:
        await query.answer(ok=True)
    else:
        log.info("pre-checkout of user %s refused: %s", payer, problem)
        await query.answer(ok=False, error_message=texts.CHECKOUT_REFUSED[problem])
    raise ApplicationHandlerStop


async def successful_payment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.successful_payment is not None and user is not None
    payment = message.successful_payment
    state = app_state(context)
    # the ledger needs the user's row (the gate has not run: payments come first)
    await state.customers.record(user.id, user.first_name, user.username, user.language_code)
    # The invoice of an order's summary: its receipt is that summary again (handlers/ordering.py);
    # the receipt is queued all the same, for a little later, in case the summary cannot be sent.
    for_order = ordering.awaits_payment(topup_id_of(payment.invoice_payload))
    try:
        recorded = await record_payment(state.db, payer_id=user.id, charge_id=payment.telegram_payment_charge_id,
                                        payload=payment.invoice_payload, total_stars=payment.total_amount,
                                        stars_per_unit=state.settings.stars_per_unit, wallet_currency=state.currency,
                                        receipt_delay=RECEIPT_FALLBACK_SECONDS if for_order else 0)
    except Exception:  # Telegram will not send it again: leave every detail for the admins
        log.exception("could not record payment %s of user %s (%s Stars, payload %r)",
                      payment.telegram_payment_charge_id, user.id, payment.total_amount, payment.invoice_payload)
        await state.alerts.alert(texts.ALERT_PAYMENT_NOT_RECORDED.lazy(
            user_id=user.id, stars=payment.total_amount,
            charge_id=html.escape(payment.telegram_payment_charge_id),
            invoice=html.escape(shorten(payment.invoice_payload, 60))))
        raise ApplicationHandlerStop from None
    if recorded is None:
        log.info("payment %s of user %s was already credited", payment.telegram_payment_charge_id, user.id)
        raise ApplicationHandlerStop
    log.info("user %s paid %s Stars: %s %s credited (P%s)", user.id, payment.total_amount, recorded.amount,
             recorded.currency, recorded.payment_id)
    if not recorded.expected:
        await state.alerts.alert(texts.ALERT_UNEXPECTED_PAYMENT.lazy(
            user_id=user.id, stars=payment.total_amount, invoice=html.escape(shorten(payment.invoice_payload, 60)),
            amount=format_money(recorded.amount, recorded.currency), payment_id=recorded.payment_id))
    if for_order:
        await ordering.paid(update, context, recorded)  # the summary again, the receipt above it
        await receipt_shown(state.db, recorded)  # (not reached if that failed: the queued receipt goes)
    elif state.notifier is not None:
        state.notifier.wake()  # the receipt is in the outbox
    raise ApplicationHandlerStop


async def refunded_payment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram's service message about a refund. Usually one the bot made and settled; otherwise
    it settles a refund whose answer was lost, or takes back the credit of a refund made outside
    the bot, and tells the admins."""
    message = update.effective_message
    assert message is not None and message.refunded_payment is not None
    refund = message.refunded_payment
    # The payer: the sender, or the private chat (a private chat's id is its user's id).
    user_id = update.effective_user.id if update.effective_user else message.chat.id
    state = app_state(context)
    try:
        report = await settle_reported_refund(state.db, user_id, refund.telegram_payment_charge_id)
    except Exception:  # Telegram will not send it again: leave the details for the admins
        log.exception("could not settle the refund of charge %s of user %s", refund.telegram_payment_charge_id,
                      user_id)
        report = RefundReport(Reported.UNKNOWN)
    log.info("refund of charge %s of user %s reported by Telegram: %s", refund.telegram_payment_charge_id, user_id,
             report.result)
    if report.result in (Reported.CONFIRMED, Reported.TAKEN_BACK) and state.notifier is not None:
        state.notifier.wake()  # the customer's message is in the outbox
    alert = {Reported.CONFIRMED: texts.ALERT_REFUND_CONFIRMED, Reported.TAKEN_BACK: texts.ALERT_REFUND_TAKEN_BACK,
             Reported.SHORT: texts.ALERT_REFUND_SHORT, Reported.UNKNOWN: texts.ALERT_REFUND_UNKNOWN}.get(report.result)
    if alert is not None:
        await state.alerts.alert(alert.lazy(
            payment_id=report.payment_id, stars=report.stars or refund.total_amount, user_id=user_id,
            amount=format_money(report.amount, report.currency), balance=format_money(report.balance, report.currency),
            charge_id=html.escape(refund.telegram_payment_charge_id)))
    raise ApplicationHandlerStop


async def paysupport(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/paysupport (a side command: an open order stays) and the help screen's button: what the
    customer needs to know in short, then their next message is the question (QUESTION).
    `/paysupport <question>` sends it at once."""
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    question = " ".join(context.args or []).strip()
    if question:
        if len(question) > SUPPORT_TEXT_LIMIT:
            await reply(update, texts.PAYSUPPORT_TOO_LONG.format(length=len(question), limit=SUPPORT_TEXT_LIMIT),
                        _after_rows())
            return
        relayed = await _relay(update, context, question)
        if current().is_open(DIALOGUE):  # the question it was waiting for came as the command's
            current().end_aside()
        await reply(update, texts.PAYSUPPORT_SENT if relayed else texts.PAYSUPPORT_WAIT, _after_rows())
        return
    contact = state.settings.support_contact
    lines = [texts.PAYSUPPORT_STARS_LINE.format(
        payment_id=p.payment_id, created=shown_day(p.created_at), stars=p.stars,
        amount=format_money(from_micros(p.amount_micros), p.currency), state=texts.PAYMENT_STATES.get(p.state, p.state))
        for p in await star_payments_of_user(state.db, user.id)]
    lines += [texts.PAYSUPPORT_MANUAL_LINE.format(
        topup_id=t.topup_id, created=shown_day(t.created_at),
        amount=format_money(from_micros(t.amount_micros), t.currency),
        state=texts.PAYMENT_STATES.get(t.state, t.state))
        for t in await topups_of_user(state.db, user.id) if t.method == "manual"]
    current().begin_aside(DIALOGUE, QUESTION)  # over an open order: it is offered again afterwards
    await show(update, texts.PAYSUPPORT.format(
        contact=texts.PAYSUPPORT_CONTACT.format(contact=html.escape(contact)) if contact else "",
        recent=texts.PAYSUPPORT_RECENT.format(lines="\n".join(lines)) if lines else ""), [cancel_row()])


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The QUESTION step: the customer's message goes to the admins (at most one a minute)."""
    message = update.effective_message
    assert message is not None
    text = (message.text or "").strip()
    if not text:  # a photo, a sticker: the admins get text only
        await reply(update, texts.PAYSUPPORT_TEXT_EXPECTED, [cancel_row()])
        return
    if len(text) > SUPPORT_TEXT_LIMIT:
        await reply(update, texts.PAYSUPPORT_TOO_LONG.format(length=len(text), limit=SUPPORT_TEXT_LIMIT),
                    [cancel_row()])
        return
    relayed = await _relay(update, context, text)
    current().end_aside()
    await reply(update, texts.PAYSUPPORT_SENT if relayed else texts.PAYSUPPORT_WAIT, _after_rows())


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Continue (under /help or /balance): the question is still awaited."""
    await show(update, texts.PAYSUPPORT_STILL_OPEN, [cancel_row()])


def _after_rows() -> list[Row]:
    """Under the answer: Continue with what was open before /paysupport, and the main menu."""
    from handlers.dialogues import continue_row  # here: handlers/dialogues.py lists this module's steps
    return [continue_row(), [(texts.BUTTON_MAIN_MENU, Menu(MenuItem.HOME).data)]]


async def _relay(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> bool:
    """To the admins, unless this customer sent one less than SUPPORT_EVERY ago (False)."""
    user = update.effective_user
    assert user is not None
    return await app_state(context).alerts.alert(texts.PAYSUPPORT_ADMIN.lazy(
        name=html.escape(shorten(user.full_name, 60)), user_id=user.id, text=html.escape(question)),
        throttle_key=f"paysupport:{user.id}", every_seconds=SUPPORT_EVERY)
