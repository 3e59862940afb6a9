"""infraplan, the infrastructure mapping platform.

GDAL's virtual-format drivers are switched off before anything loads GDAL (pyogrio registers
its drivers once, on import, and reads ``GDAL_SKIP`` then). A VRT document names other files and
addresses for GDAL to open, and GDAL recognises one by its text: a remote service's answer (a
WFS page read from memory) or a file holding ``<OGRVRTDataSource>`` would otherwise have the
server read its own files, or fetch from its own network, as if they were the data. The
connectors app checks at start-up that the drivers are indeed off.
"""

import os

GDAL_DRIVERS_OFF = ("OGR_VRT", "VRT")

os.environ["GDAL_SKIP"] = " ".join(
    dict.fromkeys([*os.environ.get("GDAL_SKIP", "").split(), *GDAL_DRIVERS_OFF])
)
