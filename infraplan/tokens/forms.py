from datetime import timedelta

from django import forms
from django.conf import settings

from .models import Scope

LIFETIMES = [7, 30, 90, 180, 365]  # days offered, up to API_TOKEN_MAX_DAYS


def _lifetime_label(days: int) -> str:
    return "1 year" if days == 365 else f"{days} days"


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the token is for, such as 'QGIS on my laptop'",
        error_messages={"required": "Enter a name for the token"},
    )
    scope = forms.ChoiceField(
        label="What the token may do",
        choices=Scope.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what the token may do"},
    )
    lifetime = forms.TypedChoiceField(
        label="How long the token lasts",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how long the token lasts"},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        maximum = settings.API_TOKEN_MAX_DAYS
        days = sorted({*(d for d in LIFETIMES if d < maximum), maximum})
        self.fields["lifetime"].choices = [(d, _lifetime_label(d)) for d in days]

    def expires_in(self) -> timedelta:
        return timedelta(days=self.cleaned_data["lifetime"])
