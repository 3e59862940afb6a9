"""Forms for signing in and registering, worded for the service (GOV.UK style labels)."""

from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from .models import Role
from .selectors import organisation_for_email


def work_email_checked(email: str) -> str:
    """``email`` if it is a work address of an organisation that uses the service; a
    ValidationError saying so otherwise.

    Registering and adding an address to an account check this; resetting a password does not
    (so it is not the account adapter's ``clean_email``, which that form uses too): people
    without such an address (platform admins, accounts made on the command line) must still be
    able to reset theirs.
    """
    if organisation_for_email(email) is None:
        domain = email.rsplit("@", 1)[-1]
        raise forms.ValidationError(
            f"Enter the work email address your organisation gave you: {domain} is not "
            "the email domain of any organisation that uses this service.",
            code="unknown_domain",
        )
    return email


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

    def clean_email(self) -> str:
        return work_email_checked(super().clean_email())


class AddEmailForm(AllauthAddEmailForm):
    """Another address for an account: a work address, as at registration."""

    def clean_email(self) -> str:
        return work_email_checked(super().clean_email())


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
        # A reason that failed its own checks (too long) is not in ``data``: its error is enough.
        if data.get("decision") == "reject" and data.get("reason") == "":
            self.add_error("reason", "Enter the reason for rejecting this registration")
        return data


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        error_messages={"required": "Enter your full name"},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
