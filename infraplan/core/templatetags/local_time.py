"""Times as the pages show them: in the platform's time zone, saying which (GMT or BST)."""

from datetime import datetime

from django import template
from django.utils import dateformat, timezone

register = template.Library()


@register.filter
def local_time(value: datetime | None, format_string: str = "j F Y H:i") -> str:
    """``value`` in the platform's time zone as ``format_string`` writes it, followed by the
    zone's abbreviation; empty for no time.

    Django's ``T`` writes nothing for a time in the hour that comes twice when the clocks go
    back, the one hour where it is needed: 01:30 BST and 01:30 GMT are an hour apart.
    """
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{dateformat.format(local, format_string)} {local.tzname()}"
