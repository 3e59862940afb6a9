from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

from infraplan.catalogue.models import Dataset


def authority(request: HttpRequest) -> dict:
    """The authority profile's public parts, and the attribution of data the user can see."""
    profile = settings.AUTHORITY_PROFILE
    return {
        "authority": profile.authority,
        "branding": profile.branding,
        "attributions": lambda: attributions_distinct(
            Dataset.objects.permitting(getattr(request, "user", None))
            .filter(versions__is_current=True)
            .values_list("attribution", flat=True)
        ),
    }


def attributions_distinct(texts: Iterable[str]) -> list[str]:
    """Each attribution once, in alphabetical order: texts alike but for their spacing are one,
    and a text another says in full (a boundary's credit within that of a population table
    drawn on the same boundaries) is left to that other, which credits it already."""
    spaced = {" ".join(text.split()) for text in texts} - {""}
    return sorted(
        text for text in spaced if not any(text != other and text in other for other in spaced)
    )
