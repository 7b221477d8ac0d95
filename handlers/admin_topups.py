"""Top-ups, for admins: manual requests (each admin gets a copy with Approve / Reject; the first
decision wins and every copy then shows it), the list of requests waiting, and refunds of Stars
payments from the user card."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot import i18n, texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros
from bot.domain.timestamps import shown_moment
from bot.shop.topups import (
    RefundCall,
    RefundRefused,
    RefundResult,
    RefundUnknown,
    decide_manual_topup,
    refund_stars,
    remember_notice,
)
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers import admin_users
from handlers.admin_base import admin_id, admin_only, home_row
from handlers.buttons import (
    Admin,
    AdminScreen,
    Button,
    RefundStep,
    StarsRefund,
    TopupDecision,
    TopupRequest,
    UserCard,
)
from handlers.common import Row, answer, is_not_modified, keyboard, show
from storage.topups import (
    Topup,
    count_pending_manual_all,
    get_star_payment,
    get_topup,
    pending_manual,
    topup_notices,
)
from storage.users import get_user

log = logging.getLogger(__name__)

SHOWN = 20  # requests listed at once, the oldest first

async def admin_name(state: AppState, admin: int | None) -> str:
    """An admin as the other admins know them: the name Telegram gave the bot (and @username),
    the id only when the bot has never seen them. Plain text: escape it for HTML."""
    user = await get_user(state.db, admin) if admin is not None else None
    if user is None or not user.first_name.strip():
        return str(admin)
    name = shorten(user.first_name, 40)
    return texts.ADMIN_WITH_USERNAME.format(name=name, username=user.username) if user.username else name


async def _request_text(state: AppState, topup: Topup) -> str:
    user = await get_user(state.db, topup.user_id)
    text = texts.MANUAL_REQUEST_ADMIN.format(
        topup_id=topup.topup_id, name=html.escape(shorten(user.first_name if user else "?", 60)),
        user_id=topup.user_id, amount=format_money(from_micros(topup.amount_micros), topup.currency),
        reference=html.escape(topup.reference) if topup.reference else texts.MANUAL_NO_REFERENCE,
        created=shown_moment(topup.created_at))
    if topup.state in texts.MANUAL_DECIDED:
        text += "\n\n" + texts.MANUAL_DECIDED[topup.state].format(
            admin=html.escape(await admin_name(state, topup.decided_by)))
    return text


def _decision_buttons(topup: Topup) -> list[Row]:
    if topup.state != "pending":
        return []
    amount = format_money(from_micros(topup.amount_micros), topup.currency)
    return [[(texts.BUTTON_APPROVE.format(amount=amount), TopupRequest(topup.topup_id, TopupDecision.APPROVE).data),
             (texts.BUTTON_REJECT, TopupRequest(topup.topup_id, TopupDecision.REJECT).data)]]


async def announce(context: ContextTypes.DEFAULT_TYPE, topup_id: int, admins: list[int] | None = None) -> None:
    """Send the request to every admin (or to `admins`), with its decision buttons."""
    state = app_state(context)
    topup = await get_topup(state.db, topup_id)
    if topup is None:
        return
    for admin in admins if admins is not None else sorted(state.settings.admin_ids):
        try:
            with i18n.reading(await state.customers.locale_of(admin)):  # each admin in their own language
                await _send_request(context, state, topup, admin)
        except TelegramError:  # one unreachable admin must not keep the request from the others
            log.warning("could not send top-up request %s to admin %s", topup_id, admin, exc_info=True)


async def _send_request(context: ContextTypes.DEFAULT_TYPE, state: AppState, topup: Topup, admin: int) -> None:
    text, rows = await _request_text(state, topup), _decision_buttons(topup)
    markup = keyboard(rows) if rows else None
    if topup.photo_file_id:
        sent = await context.bot.send_photo(admin, topup.photo_file_id, caption=text, reply_markup=markup)
    else:
        sent = await context.bot.send_message(admin, text, reply_markup=markup)
    await remember_notice(state.db, topup.topup_id, admin, sent.message_id, is_photo=bool(topup.photo_file_id))


async def _show_decision(context: ContextTypes.DEFAULT_TYPE, topup: Topup) -> None:
    """Every admin's copy of the request now says who decided what, without buttons."""
    state = app_state(context)
    for notice in await topup_notices(state.db, topup.topup_id):
        with i18n.reading(await state.customers.locale_of(notice.admin_id)):
            text = await _request_text(state, topup)
        try:
            if notice.is_photo:
                await context.bot.edit_message_caption(notice.admin_id, notice.message_id, caption=text,
                                                       reply_markup=None)
            else:
                await context.bot.edit_message_text(text, notice.admin_id, notice.message_id,
                                                    reply_markup=None)
        except TelegramError as exc:
            if is_not_modified(exc):  # already showing it (another admin's press updated it): done
                continue
            log.warning("could not update admin %s's copy of top-up request %s: %s", notice.admin_id,
                        topup.topup_id, exc)  # deleted by the admin, or too old: the decision stands


@admin_only
async def pending_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    waiting = await pending_manual(state.db, SHOWN)
    if not waiting:
        await show(update, texts.TOPUPS_NONE, home_row())
        return
    count = await count_pending_manual_all(state.db)
    title = texts.TOPUPS_TITLE.format(count=count)
    if count > len(waiting):  # say so: the list stops at SHOWN
        title += "\n" + texts.LIST_OLDEST_SHOWN.format(shown=len(waiting))
    lines, rows = [title], []
    for topup in waiting:
        amount = format_money(from_micros(topup.amount_micros), topup.currency)
        lines.append(f"#{topup.topup_id} · <code>{topup.user_id}</code> · {amount} · "
                     f"{html.escape(shorten(topup.reference, 60)) or texts.MANUAL_NO_REFERENCE}")
        rows.append([(f"🔎 #{topup.topup_id}", TopupRequest(topup.topup_id).data)])
    await show(update, "\n".join(map(str, lines)), [*rows, [(texts.BUTTON_ADMIN_TOPUPS.format(count=len(waiting)),
                                                    Admin(AdminScreen.TOPUPS).data)], *home_row()])


@admin_only
async def request_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, TopupRequest)
    topup_id = pressed.topup_id
    if pressed.decision is None:  # show the request (with its photo) to this admin, with its buttons
        await answer(update)
        await announce(context, topup_id, [admin_id(update)])
        return
    state = app_state(context)
    decision = await decide_manual_topup(state.db, topup_id, admin_id(update),
                                         approve=pressed.decision is TopupDecision.APPROVE)
    if decision.topup is None:
        await answer(update, texts.MANUAL_NOT_FOUND)
        return
    if not decision.changed:
        already = texts.MANUAL_DECIDED.get(decision.topup.state, "{admin}").format(  # a toast: plain text
            admin=await admin_name(state, decision.topup.decided_by))
        await answer(update, texts.MANUAL_ALREADY_DECIDED.format(decision=already))
        await _show_decision(context, decision.topup)
        return
    log.info("admin %s %s top-up request %s", admin_id(update), decision.topup.state, topup_id)
    if state.notifier is not None:
        state.notifier.wake()  # the customer's message is in the outbox
    decided = texts.MANUAL_DECIDED[decision.topup.state]
    await answer(update, decided.format(admin=await admin_name(state, admin_id(update))))
    await _show_decision(context, decision.topup)


# --------------------------------------------------------------------------- Stars refunds

@admin_only
async def refund_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, StarsRefund)
    user_id, payment_id = pressed.user_id, pressed.payment_id
    state = app_state(context)
    payment = await get_star_payment(state.db, payment_id)
    if payment is None or payment.user_id != user_id:
        await admin_users.user_card(update, context, user_id, texts.REFUND_RESULTS["not_found"])
        return
    amount = format_money(from_micros(payment.amount_micros), payment.currency)
    if pressed.step is None and payment.state == "paid":  # ask first
        wallet = format_money(await balance(state.db, user_id), payment.currency)
        await show(update, texts.CONFIRM_STARS_REFUND.format(payment_id=payment_id, stars=payment.stars,
                                                             user_id=user_id, amount=amount, balance=wallet),
                   [[(texts.BUTTON_YES_REFUND_STARS.format(stars=payment.stars),
                      StarsRefund(user_id, payment_id, RefundStep.CONFIRMED).data),
                     (texts.BUTTON_NO, UserCard(user_id).data)]])
        return
    outcome = await refund_stars(state.db, payment_id, user_id, admin_id(update), _refund_call(context))
    log.info("admin %s refund of Stars payment %s: %s", admin_id(update), payment_id, outcome.result)
    if outcome.result is RefundResult.DONE and state.notifier is not None:
        state.notifier.wake()
    note = texts.REFUND_RESULTS[outcome.result].format(
        payment_id=payment_id, stars=outcome.stars, amount=format_money(outcome.amount, outcome.currency),
        balance=format_money(outcome.balance, outcome.currency), reason=html.escape(shorten(outcome.reason, 100)))
    await admin_users.user_card(update, context, user_id, note)


def _refund_call(context: ContextTypes.DEFAULT_TYPE) -> RefundCall:
    """refundStarPayment, its errors sorted into "refused" (nothing happened) and "unknown"."""
    async def call(user_id: int, charge_id: str) -> None:
        try:
            await context.bot.refund_star_payment(user_id, charge_id)
        except BadRequest as exc:
            if "CHARGE_ALREADY_REFUNDED" in exc.message.upper():
                return  # refunded before (an earlier answer was lost): the state we want
            raise RefundRefused(exc.message) from None
        except (RetryAfter, NetworkError) as exc:  # flood control, timeout, lost connection, 5xx: unknown
            raise RefundUnknown(exc.message) from None
        except TelegramError as exc:
            raise RefundRefused(exc.message) from None
    return call
