"""Slots for heavy requests, shared by every web process.

Downloads, pictures of the map and pages of the OGC API can each keep a web process busy for
seconds. Each takes one of ``HEAVY_REQUEST_SLOTS`` slots while it works (for a streamed answer,
until the last byte is sent); a request that finds every slot taken is answered at once with
503 and ``Retry-After``, rather than waiting for a process while the health check and every
officer's pages wait behind it. With fewer slots than web processes, one process is always free
for everything else.

A slot is a PostgreSQL session advisory lock, which every process sees: a process that dies
frees its slot with its connection. (Through a pooler in transaction mode, as for the catalogue
listener, session locks do not hold: give the web processes a direct connection.)
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

LOCK_SPACE = 0x1A9E_0001  # the first key of the two-key advisory locks: this module's own
RETRY_AFTER_SECONDS = 30


class Busy(Exception):
    """Every slot is taken: ask again in ``RETRY_AFTER_SECONDS``."""


def slot_take() -> int:
    """Take a free slot and return it; raise Busy when none is free."""
    with connection.cursor() as cursor:
        for slot in range(settings.HEAVY_REQUEST_SLOTS):
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, slot])
            if cursor.fetchone()[0]:
                return slot
    raise Busy


def slot_give_back(slot: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, slot])


@contextmanager
def heavy_slot() -> Iterator[None]:
    """Hold a slot while the block runs; Busy when none is free."""
    slot = slot_take()
    try:
        yield
    finally:
        slot_give_back(slot)


class Held:
    """A streamed answer's body (``chunks``) that gives ``slot`` back when the last chunk is
    sent, or when the answer is closed unsent (the client went away): Django closes an
    answer's body with the answer, whether or not it was read."""

    def __init__(self, chunks: Iterable, slot: int) -> None:
        self.chunks = chunks
        self.slot: int | None = slot

    def __iter__(self) -> Iterator:
        try:
            yield from self.chunks
        finally:
            self.close()

    def close(self) -> None:
        if self.slot is not None:
            slot, self.slot = self.slot, None
            slot_give_back(slot)
