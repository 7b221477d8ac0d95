"""Leases: a named duty held by one instance until a time (unix seconds), then free for any.

A lease is taken in one statement, so two instances asking at once never both get it; the
holder may renew it. It is how the catalogue refresh and the balance check run on one instance
at a time, and how a throttle (one alert a quarter of an hour) holds for all instances at once.
"""

from __future__ import annotations

from storage.database import Database


async def take_lease(db: Database, name: str, owner: str, *, now: float, seconds: float) -> bool:
    """Take (or renew) the lease `name` for `seconds` if it is free, expired, or ours already."""
    async with db.transaction() as conn:
        row = await conn.fetchone(
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
            " WHERE leases.expires_at <= ? OR leases.owner = excluded.owner RETURNING name",
            (name, owner, now + seconds, now))
    return row is not None


async def release_lease(db: Database, name: str, owner: str) -> None:
    await db.write_one("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


async def lease_holder(db: Database, name: str, *, now: float) -> str | None:
    row = await db.fetchone("SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, now))
    return str(row[0]) if row else None
