"""The credentials part of a source's form: which kind (none, or one the connector takes), the
inputs of each kind, and, for a source that has some, a box to remove them.

A saved secret is never shown again: the page says what kind was saved, when and by whom, and
its inputs start empty. Left empty, the saved credentials are kept; filled in, they replace
them. Every kind's inputs are on the page, each under its own heading, so the form works the
same without JavaScript.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .credentials import (
    FIELD_LABELS,
    KIND_FIELDS,
    CredentialKind,
    EnteredCredentials,
    credentials_checked,
)

NONE = "none"
# Secret inputs: never filled in again by the page (render_value False), and marked so that a
# browser does not offer the person's own sign-in password for them.
_SECRET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
_HINTS = {
    "token": "As the layer's publisher gave it. It is sent in a header "
    "(X-Esri-Authorization), never in an address.",
    "header_name": "Such as X-API-Key or Authorization.",
    "header_value": "The key itself, such as Bearer followed by the token.",
}


def credentials_fields(kinds: tuple[str, ...], *, saved: bool) -> dict[str, forms.Field]:
    """The form's inputs for credentials of ``kinds`` (none for a connector that takes none);
    with ``saved``, the box that removes the saved ones."""
    if not kinds:
        return {}
    fields: dict[str, forms.Field] = {
        "credentials_kind": forms.ChoiceField(
            label="Credentials",
            help_text="For a secured service. They are sent only to the service's own address, "
            "over https, and are never shown again once saved.",
            choices=[(NONE, "None: the service is public"),
                     *((kind, CredentialKind(kind).label) for kind in kinds)],
            initial=NONE, widget=forms.RadioSelect, required=False,
            error_messages={"invalid_choice": "Choose one of the kinds of credentials listed"},
        ),
    }  # fmt: skip
    for kind in kinds:
        for name in KIND_FIELDS[kind]:
            secret = name in ("token", "password", "header_value")
            fields[f"credentials_{name}"] = forms.CharField(
                label=FIELD_LABELS[name], help_text=_HINTS.get(name, ""), required=False,
                strip=False, widget=_SECRET if secret else forms.TextInput(
                    attrs={"autocomplete": "off"}
                ),
            )  # fmt: skip
    if saved:
        fields["credentials_remove"] = forms.BooleanField(
            label="Remove the saved credentials",
            help_text="The service is then sent none.",
            required=False,
        )
    return fields


def credentials_cleaned(
    form: forms.Form, data: dict[str, Any], *, saved_kind: str
) -> tuple[EnteredCredentials | None, bool]:
    """(new credentials or None, whether the saved ones are removed) from the form's
    ``data``; each problem added beside its input. ``saved_kind``: the kind the source has
    saved ("" for none)."""
    if "credentials_kind" not in form.fields:
        return None, False
    kind = data.get("credentials_kind") or NONE
    names = [name for kind_names in KIND_FIELDS.values() for name in kind_names]
    typed = {
        name: data.get(f"credentials_{name}") or ""
        for name in names
        if f"credentials_{name}" in form.fields
    }
    if data.get("credentials_remove"):
        if kind != NONE and any(typed.get(name) for name in KIND_FIELDS[kind]):
            form.add_error(
                "credentials_remove",
                "Either remove the saved credentials or enter new ones, not both",
            )
        return None, True
    if kind == NONE:
        if saved_kind:
            form.add_error(
                "credentials_kind",
                "To send the service no credentials, tick “Remove the saved credentials”",
            )
        return None, False
    if kind == saved_kind and not any(typed.get(name) for name in KIND_FIELDS[kind]):
        return None, False  # kept as saved
    try:
        return credentials_checked(kind, typed), False
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, problem)
        return None, False
