"""Which values of a feature are web addresses, shown as links by its pop-up and its page.

Real data carries them (a brownfield register's site plan, a school's website, a record's
documentation) and officers expect to follow them. The rule lives here alone: the server marks
each row's link (``selectors.DetailRow.href``) and the map's script only draws it, checking it
again before it becomes an ``href``.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# Longer than any address a register carries; beyond it a value is text, however it starts.
MAX_WEB_ADDRESS_LENGTH = 2_000

_HTTP_ADDRESS = URLValidator(schemes=["http", "https"])


def web_address(text: str) -> str | None:
    """``text`` without its surrounding spaces when it is exactly one absolute http or https
    address (the scheme in any case), else None.

    Anything else stays text: other schemes (``javascript:``, ``data:``, ``mailto:``), relative
    paths, an address among other words or with spaces inside, and control or invisible
    characters (a right-to-left override could make a link's text lie about where it goes), and
    an address with a user name before its host (``https://www.gov.uk@elsewhere.example/``
    reads as one site and leads to another).
    ``www.example.org`` without a scheme is text too: ``http://`` or ``https://`` would be a
    guess, and the wrong one may lead somewhere else.
    """
    address = text.strip()
    if len(address) > MAX_WEB_ADDRESS_LENGTH or " " in address or not address.isprintable():
        return None
    try:
        _HTTP_ADDRESS(address)
    except ValidationError:
        return None
    if "@" in urlsplit(address).netloc:
        return None
    return address
