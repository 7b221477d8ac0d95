"""Wallets: the balance is the sum of the ledger; admins credit and debit."""

from __future__ import annotations

from decimal import Decimal

from bot.domain.money import from_micros, source_money, to_micros
from storage.audit import record
from storage.database import Database
from storage.ledger import add_entry, balance_micros
from storage.users import user_exists


class WalletError(Exception):
    pass


class UnknownUser(WalletError):
    pass


class Overdraft(WalletError):
    def __init__(self, balance: Decimal) -> None:
        super().__init__(f"balance {balance}")
        self.balance = balance


async def balance(db: Database, user_id: int) -> Decimal:
    return from_micros(await balance_micros(db, user_id))


async def adjust(db: Database, user_id: int, amount: Decimal, currency: str, *, admin_id: int,
                 note: str = "") -> Decimal:
    """Credit (amount > 0) or debit (amount < 0) a wallet on an admin's word; returns the new
    balance. A debit never takes a wallet below zero."""
    if not await user_exists(db, user_id):
        raise UnknownUser(user_id)
    micros = to_micros(amount)
    async with db.transaction() as conn:
        current = await balance_micros(conn, user_id)
        if current + micros < 0:
            raise Overdraft(from_micros(current))
        action = "credit" if micros > 0 else "debit"
        await add_entry(conn, user_id, micros, currency, action, admin_id=admin_id, note=note)
        await record(conn, admin_id, action, f"user {user_id}", before=source_money(from_micros(current), currency),
                     after=source_money(from_micros(current + micros), currency))
        return from_micros(current + micros)
