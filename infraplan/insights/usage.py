"""The usage log, written off the request path.

Requests append a record to an in-process buffer; a flusher thread writes the buffer in one
INSERT every few seconds. Enqueuing a task per request would cost the very database write this
avoids. If the buffer fills (the database is down, say), the oldest records are dropped and
counted, never blocking a request.
"""

import atexit
import hashlib
import hmac
import logging
import threading
from collections import deque
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest
from django.utils import timezone

from infraplan.audit.security import client_address

from .models import UsageRecord

logger = logging.getLogger(__name__)

BUFFER_LIMIT = 10_000


class UsageBuffer:
    def __init__(self, limit: int = BUFFER_LIMIT) -> None:
        self._records: deque[UsageRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self.dropped = 0

    def add(self, record: UsageRecord) -> None:
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    def flush(self) -> int:
        """Write what is buffered; returns how many were written. Failed writes are re-queued."""
        with self._lock:
            batch = list(self._records)
            self._records.clear()
        if not batch:
            return 0
        try:
            UsageRecord.objects.bulk_create(batch)
        except DatabaseError:
            logger.warning("usage log: could not write %d records; will retry", len(batch))
            with self._lock:
                self._records.extendleft(reversed(batch))
            return 0
        return len(batch)

    def start(self, every: float) -> None:
        """Start the flusher thread once per process (after any fork, as it runs lazily)."""
        if self._flusher is not None and self._flusher.is_alive():
            return
        self._stop.clear()
        self._flusher = threading.Thread(
            target=self._run, args=(every,), name="usage-flusher", daemon=True
        )
        self._flusher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.flush()
            connection.close()  # this thread's own connection; don't hold it between flushes


buffer = UsageBuffer()
atexit.register(buffer.flush)


def visitor_hash(address: str, user_agent: str, day: datetime) -> str:
    key = settings.SECRET_KEY.encode()
    message = f"{day:%Y-%m-%d}|{address}|{user_agent}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def request_visitor_hash(request: HttpRequest, day: datetime) -> str:
    """The visitor code of the client that made ``request``: its address as the rest of the
    service takes it (behind the deployment's proxies, not theirs), and its browser."""
    address = client_address(request) or ""
    return visitor_hash(address, request.META.get("HTTP_USER_AGENT", "")[:300], day)


def usage_record(
    *,
    kind: str,
    method: str,
    dataset: str,
    user_id: int | None,
    status: int,
    duration_ms: int,
    request: HttpRequest,
) -> None:
    now = timezone.now()
    buffer.add(
        UsageRecord(
            at=now,
            kind=kind[:60],
            method=method[:8],
            dataset=dataset[:80],
            user_id=user_id,
            status=status,
            duration_ms=duration_ms,
            visitor=request_visitor_hash(request, now),
        )
    )
    buffer.start(settings.USAGE_LOG_FLUSH_SECONDS)
