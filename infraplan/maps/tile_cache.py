"""Tiles already made, kept in each web process's memory and bounded by size.

Officers looking at the same district ask for the same tiles. A tile's bytes are fixed by what
its ETag names (dataset, version shown, fields carried, minimum zoom, the day ended features are
judged on, the tile and the encoding), so a tile made once is kept under that name with the
dataset's id and served again without its SQL or its compression. A publish, a style change or
a new day gives new names; the old entries are never asked for again and leave as the least
recently used when space is needed.

The cache holds bytes only. Whether a user may see them is asked of the gate on every request,
before the cache is looked at.
"""

import threading
from collections import OrderedDict

# What each entry costs beyond its name's and its bytes' lengths (the bytes object, the string,
# the ordered map's slot and links), measured with tracemalloc on CPython 3.12: an empty tile
# costs this much, not nothing.
ENTRY_OVERHEAD = 170


class TileCache:
    """A least-recently-used map of tile names to bytes, holding at most ``max_bytes`` (of
    memory, ``ENTRY_OVERHEAD`` counted for each entry)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        """Keep ``value`` (unless it alone is larger than the cache), dropping the least
        recently used entries to make room."""
        cost = len(key) + len(value) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(key) + len(previous) + ENTRY_OVERHEAD
            while self._entries and self._size + cost > self.max_bytes:
                dropped_key, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped_key) + len(dropped) + ENTRY_OVERHEAD
            self._entries[key] = value
            self._size += cost

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    @property
    def size(self) -> int:
        """Bytes held (keys, values and each entry's overhead)."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)
