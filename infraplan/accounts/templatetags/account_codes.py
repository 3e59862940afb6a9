"""Codes and keys as people copy them by hand: in groups of four characters."""

from django import template

register = template.Library()

GROUP = 4


@register.filter
def in_groups(value: str) -> str:
    """``value`` split into groups of four characters with a space between them
    ("JBSWY3DPEHPK3PXP" → "JBSW Y3DP EHPK 3PXP"). Codes are accepted with or without the
    spaces, and authenticator apps ignore them in a key."""
    text = str(value)
    return " ".join(text[start : start + GROUP] for start in range(0, len(text), GROUP))
