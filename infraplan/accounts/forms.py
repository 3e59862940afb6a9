"""Forms for signing in and registering, worded for the service (GOV.UK style labels)."""

from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from .models import Role


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email address"
        self.fields["login"].widget.attrs["autocomplete"] = "username"


NCSC_ADVICE = (
    "Use at least 12 characters. Three or more random words make a password that is long, "
    "strong and easy to remember. You can use spaces and any characters; there are no other "
    "rules. Do not use a password you use anywhere else."
)


class SignupForm(AllauthSignupForm):
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        error_messages={"required": "Enter your full name"},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    field_order = ["full_name", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Work email address"
        self.fields[
            "email"
        ].help_text = (
            "The address your organisation gave you: it decides which organisation you join."
        )
        self.fields["password1"].help_text = NCSC_ADVICE
        self.fields["password2"].label = "Confirm password"
        self.order_fields(self.field_order)


class NewPasswordAdvice:
    """Every form that sets a new password gives the same advice."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = NCSC_ADVICE
        self.fields["password2"].label = "Confirm new password"


class ChangePasswordForm(NewPasswordAdvice, AllauthChangePasswordForm):
    pass


class ResetPasswordKeyForm(NewPasswordAdvice, AllauthResetPasswordKeyForm):
    pass


class DecisionForm(forms.Form):
    """An admin's decision on one registration."""

    decision = forms.ChoiceField(
        label="Decision",
        choices=[("approve", "Approve"), ("reject", "Reject")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select approve or reject"},
    )
    role = forms.ChoiceField(
        label="Role if approved", choices=Role.choices, initial=Role.VIEWER, required=False
    )
    reason = forms.CharField(
        label="Reason if rejected",
        help_text="The applicant is sent this reason.",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("reason", "").strip():
            self.add_error("reason", "Enter the reason for rejecting this registration")
        return data


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        error_messages={"required": "Enter your full name"},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
