"""Keeping what this instance holds in memory in step with what other instances changed.

Bans, chosen languages, the catalogue and its rules are read from memory on every update. Each
change to them is logged in the database (storage/changes.py) by whichever instance made it;
`ChangeWatcher.check`, run every couple of seconds, reloads what the log names, so a ban or a
markup set on one instance holds on all of them within seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.shop.catalogue import ShopCatalogue
from bot.shop.customers import Customers
from storage.changes import CATALOGUE, USER, changes_since, prune_changes
from storage.database import Database

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds of the log read each time: a change that committed late is still seen
KEEP = 86400.0  # seconds the log is kept


@dataclass
class ChangeWatcher:
    db: Database
    customers: Customers
    catalogues: ShopCatalogue
    _seen: dict[int, float] = field(default_factory=dict)  # change id → when it was seen (or logged)
    _pruned_at: float = 0.0

    @staticmethod
    async def logged(db: Database, now: float) -> dict[int, float]:
        """The changes logged now, read before the caches are loaded: those are in them already
        (a change logged in between is applied again, which is harmless)."""
        return {change.change_id: now for change in await changes_since(db, now - WINDOW)}

    async def check(self, now: float) -> int:
        """Reload what others changed since the last check; returns how many changes were applied."""
        fresh = [c for c in await changes_since(self.db, now - WINDOW) if c.change_id not in self._seen]
        catalogue = [c for c in fresh if c.kind == CATALOGUE]
        for change in fresh:  # each marked seen once applied: a reload that fails is tried next time
            if change.kind == USER and change.subject.lstrip("-").isdigit():
                await self.customers.reload(int(change.subject))
                self._seen[change.change_id] = now
        if catalogue:
            await self.catalogues.reload()
            self._seen.update(dict.fromkeys((c.change_id for c in catalogue), now))
        self._seen = {cid: at for cid, at in self._seen.items() if now - at <= 2 * WINDOW}
        if now - self._pruned_at >= 3600:
            self._pruned_at = now
            await prune_changes(self.db, before=now - KEEP)
        return len(fresh)
