"""A broadcast as an admin drives it: a draft (its text checked by a preview), then Send (once:
the recipients are fixed then) or Cancel. bot/broadcaster.py delivers what was sent."""

from __future__ import annotations

from storage.broadcasts import cancel_draft, create_draft, start_sending
from storage.database import Database


async def draft_broadcast(db: Database, admin_id: int, text: str) -> int:
    """The broadcast's id."""
    return await create_draft(db, admin_id, text)


async def drop_draft(db: Database, broadcast_id: int) -> bool:
    """False when it is no draft any more (sent or dropped meanwhile)."""
    return await cancel_draft(db, broadcast_id)


async def send_broadcast(db: Database, broadcast_id: int, admin_id: int, recipients: list[int],
                         progress_message_id: int | None) -> bool:
    """Draft → sending to `recipients`, once: False when a second tap (or a Cancel) came first."""
    return await start_sending(db, broadcast_id, admin_id, recipients, progress_message_id)
