"""GDAL's own HTTP requests, refused in every process that loads GDAL.

The platform fetches remote data itself (``connectors/fetch.py``: the allow-list, the address
checks, the limits) and hands GDAL bytes or a file. GDAL would still fetch what a file names:
a GeoJSON ``crs`` member of type ``link`` or ``url`` (GeoJSON of 2008) has GDAL's reader fetch
the address given, and a GML document's schema location has the GML reader fetch its schema.
Either would let an upload, or a remote service's answer, make the server request any address,
its own network's included. Every such request goes through ``CPLHTTPFetch``, which asks a
callback instead of libcurl when one is set: this module sets one that answers nothing, in
each copy of GDAL the process has loaded (pyogrio's, and the system's that GeoDjango uses).
GDAL then carries on as without the network: a coordinate system it could not fetch is not
known, and the load works it out from the coordinates as for a file that declares none.
"""

import ctypes
import logging
import re
from pathlib import Path

# GDAL's CPLHTTPResult (cpl_http.h), unchanged since GDAL 2.
_FIELDS = [
    ("status", ctypes.c_int),
    ("content_type", ctypes.c_void_p),
    ("error", ctypes.c_void_p),
    ("data_length", ctypes.c_int),
    ("data_allocated", ctypes.c_int),
    ("data", ctypes.c_void_p),
    ("headers", ctypes.c_void_p),
    ("mime_part_count", ctypes.c_int),
    ("mime_parts", ctypes.c_void_p),
]
REFUSAL = b"GDAL's network access is off in infraplan: the platform fetches remote data itself."
# CURLE_COULDNT_CONNECT, which GDAL's callers read as a request that got no answer.
_NOT_CONNECTED = 7
_LIBGDAL = re.compile(r"/libgdal[^/]*\.so[^/]*$")


class _HTTPResult(ctypes.Structure):
    _fields_ = _FIELDS


_FETCH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_void_p,  # CPLHTTPResult*, freed by GDAL (CPLHTTPDestroyResult)
    ctypes.c_char_p,  # the URL
    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_void_p,
)  # fmt: skip
# Each library's callback, kept for the life of the process (GDAL holds only its address).
_callbacks: dict[str, object] = {}
logger = logging.getLogger(__name__)


def loaded_gdal_libraries() -> list[str]:
    """The paths of the GDAL libraries mapped into this process."""
    maps = Path("/proc/self/maps").read_text()
    return sorted({line.split(maxsplit=5)[5] for line in maps.splitlines()
                   if line.count(" ") >= 5 and _LIBGDAL.search(line)})  # fmt: skip


def gdal_network_refuse() -> list[str]:
    """Set the refusing callback in every GDAL library loaded now; returns their paths. Safe
    to call again (a library already done is left as it is)."""
    import pyogrio  # noqa: F401  (loads pyogrio's GDAL, so that it is among those found)

    for path in loaded_gdal_libraries():
        if path not in _callbacks:
            _callbacks[path] = _refuse_in(ctypes.CDLL(path))
    return list(_callbacks)


def _refuse_in(library: ctypes.CDLL) -> object:
    library.CPLCalloc.restype = ctypes.c_void_p
    library.CPLCalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    library.CPLStrdup.restype = ctypes.c_void_p
    library.CPLStrdup.argtypes = [ctypes.c_char_p]
    library.CPLHTTPSetFetchCallback.restype = ctypes.c_int
    library.CPLHTTPSetFetchCallback.argtypes = [_FETCH_CALLBACK, ctypes.c_void_p]

    def refuse(url: bytes, *_: object) -> int:
        logger.warning("GDAL asked for %s; refused.", url.decode("utf-8", "replace")[:300])
        # Allocated by GDAL, as GDAL frees it.
        address = library.CPLCalloc(1, ctypes.sizeof(_HTTPResult))
        result = _HTTPResult.from_address(address)
        result.status = _NOT_CONNECTED
        result.error = library.CPLStrdup(REFUSAL)
        return address

    callback = _FETCH_CALLBACK(refuse)
    library.CPLHTTPSetFetchCallback(callback, None)
    return callback
