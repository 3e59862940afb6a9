from django import forms

from .selectors import AuditFilter

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
DATE_MESSAGE = "Enter a real date, like 2026-11-27"


class AuditFilterForm(forms.Form):
    """The viewer's filters, from the query string (shared by the page and its CSV link)."""

    actor = forms.CharField(label="Who", required=False, max_length=254, strip=True)
    action = forms.ChoiceField(label="Action", required=False)
    target_type = forms.ChoiceField(label="Kind of record", required=False)
    since = forms.DateField(
        label="From", required=False, input_formats=DATE_FORMATS,
        error_messages={"invalid": DATE_MESSAGE},
    )  # fmt: skip
    until = forms.DateField(
        label="To", required=False, input_formats=DATE_FORMATS,
        error_messages={"invalid": DATE_MESSAGE},
    )  # fmt: skip
    q = forms.CharField(label="Text", required=False, max_length=200, strip=True)

    def __init__(self, *args, actions: list[str], target_types: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        families = sorted({action.split(".")[0] + "." for action in actions if "." in action})
        self.fields["action"].choices = [
            ("", "Any action"),
            *[(family, f"{family}* (any {family[:-1]} action)") for family in families],
            *[(action, action) for action in actions],
        ]
        self.fields["target_type"].choices = [("", "Any kind")] + [(t, t) for t in target_types]

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The 'to' date must be the same as or after the 'from' date")
        return data

    def criteria(self) -> AuditFilter:
        """The filter the valid fields describe (invalid ones are left out, and shown as errors)."""
        self.is_valid()
        data = self.cleaned_data
        return AuditFilter(
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            target_type=data.get("target_type") or "",
            since=data.get("since"),
            until=data.get("until"),
            text=data.get("q") or "",
        )
