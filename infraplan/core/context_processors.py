from django.conf import settings
from django.http import HttpRequest

from infraplan.catalogue.models import Dataset


def authority(request: HttpRequest) -> dict:
    """The authority profile's public parts, and the attribution of data the user can see."""
    profile = settings.AUTHORITY_PROFILE
    return {
        "authority": profile.authority,
        "branding": profile.branding,
        "attributions": lambda: sorted(
            set(
                Dataset.objects.permitting(getattr(request, "user", None))
                .filter(versions__is_current=True)
                .values_list("attribution", flat=True)
            )
        ),
    }
