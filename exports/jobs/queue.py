"""The Redis list `export_queue`: the ids of pending exports, so `redis-cli llen export_queue` counts them.

The `exports` rows stay the one source of truth (a row is queued while its status is `pending`);
the list is their view in Redis, kept by the worker pool at each change of that state — LPUSH
when an export is queued, LREM when a worker claims it, it is cancelled or it fails before it
ran — and made equal to the rows again by `reconcile` (at start and with the hourly purge), so an
entry lost while Redis was down, or left by a process that died, does not last. Without
REDIS_URL there is no list. A Redis failure is logged and never fails an export.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from store import Store
from store.models import Export

log = logging.getLogger(__name__)

QUEUE_KEY = "export_queue"
# A pending row younger than this may not be pushed yet by the process that queued it.
RECONCILE_GRACE = timedelta(seconds=60)


class ExportQueueList:
    """The `export_queue` list on the Redis of `url` (None: no Redis, every call a no-op)."""

    def __init__(self, url: str | None) -> None:
        self._client: Any = None
        if url:
            import redis

            self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
            self._client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def queued(self, export_id: str) -> None:
        self._call("lpush", export_id)

    def left(self, *export_ids: str) -> None:
        """The exports left the queue (claimed, cancelled, failed or purged)."""
        for export_id in export_ids:
            self._call("lrem", 0, export_id)

    def length(self) -> int | None:
        return self._call("llen")

    def reconcile(self, store: Store, now: datetime | None = None) -> None:
        """Make the list hold exactly the pending rows: drop ids that are no longer pending,
        push pending ones older than RECONCILE_GRACE that are missing."""
        if not self.enabled:
            return
        listed = self._call("lrange", 0, -1)
        if listed is None:
            return
        listed_ids = {item.decode() if isinstance(item, bytes) else item for item in listed}
        with store.session() as session:
            pending = session.execute(
                select(Export.id, Export.created_at).where(Export.status == "pending")
            ).all()
        pending_ids = {export_id for export_id, _ in pending}
        self.left(*sorted(listed_ids - pending_ids))
        cutoff = (now or datetime.now(UTC)) - RECONCILE_GRACE
        for export_id, created in pending:
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            if export_id not in listed_ids and created < cutoff:
                self.queued(export_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _call(self, method: str, *args: Any) -> Any:
        if self._client is None:
            return None
        try:
            return getattr(self._client, method)(QUEUE_KEY, *args)
        except self._errors as exc:
            log.warning("Redis %s of %s failed (exports go on): %s", method, QUEUE_KEY, exc)
            return None
