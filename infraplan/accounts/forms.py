"""Forms for signing in and registering, worded for the service (GOV.UK style labels)."""

from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import (
    ConfirmReauthenticationCodeForm as AllauthConfirmReauthenticationCodeForm,
)
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ReauthenticateForm as AllauthReauthenticateForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SetPasswordForm as AllauthSetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.mfa.base.forms import AuthenticateForm as AllauthMfaAuthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as AllauthMfaReauthenticateForm
from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
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


EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.com"


def fields_worded(form: forms.Form, wording: dict[str, tuple[str, str]]) -> None:
    """Give ``form``'s fields the service's labels and GOV.UK's specific "Enter your …"
    messages in place of allauth's Title Case labels and Django's "This field is required.".
    ``wording`` maps a field's name to its label and its message when left empty."""
    for name, (label, required) in wording.items():
        field = form.fields[name]
        field.label = label
        field.error_messages = {**field.error_messages, "required": required}
        if isinstance(field, forms.EmailField):
            field.error_messages["invalid"] = EMAIL_FORMAT
        # allauth repeats each label as a placeholder, which GOV.UK advises against (it is lost
        # as soon as someone types, and is often read as a value already filled in).
        field.widget.attrs.pop("placeholder", None)


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(
            self,
            {
                "login": ("Email address", "Enter your email address"),
                "password": ("Password", "Enter your password"),
            },
        )
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
        fields_worded(
            self,
            {
                "email": ("Work email address", "Enter your work email address"),
                "password1": ("Password", "Enter a password"),
                "password2": ("Confirm password", "Enter the password again to confirm it"),
            },
        )
        self.fields[
            "email"
        ].help_text = (
            "The address your organisation gave you: it decides which organisation you join."
        )
        self.fields["password1"].help_text = NCSC_ADVICE
        self.order_fields(self.field_order)

    def clean_email(self) -> str:
        return work_email_checked(super().clean_email())


class AddEmailForm(AllauthAddEmailForm):
    """Another address for an account: a work address, as at registration."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(
            self, {"email": ("Work email address", "Enter the work email address to add")}
        )

    def clean_email(self) -> str:
        return work_email_checked(super().clean_email())


class NewPasswordAdvice:
    """Every form that sets a new password gives the same advice and wording."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(
            self,
            {
                "password1": ("New password", "Enter a new password"),
                "password2": (
                    "Confirm new password",
                    "Enter the new password again to confirm it",
                ),
            },
        )
        self.fields["password1"].help_text = NCSC_ADVICE


class ChangePasswordForm(NewPasswordAdvice, AllauthChangePasswordForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(self, {"oldpassword": ("Current password", "Enter your current password")})


class SetPasswordForm(NewPasswordAdvice, AllauthSetPasswordForm):
    """A first password, for an account without one (someone who signs in through their
    organisation's single sign-on)."""


class ResetPasswordKeyForm(NewPasswordAdvice, AllauthResetPasswordKeyForm):
    pass


class ResetPasswordForm(AllauthResetPasswordForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(self, {"email": ("Email address", "Enter your email address")})


class ReauthenticateForm(AllauthReauthenticateForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(self, {"password": ("Password", "Enter your password")})


class ConfirmReauthenticationCodeForm(AllauthConfirmReauthenticationCodeForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(self, {"code": ("Code", "Enter the code from the email")})
        self.fields["code"].help_text = "The 8-letter code in the email, for example BXRT-KMPD"


# --- two-factor authentication ------------------------------------------------------------------

TOTP_CODE_HINT = "The 6-digit code shown in your authenticator app"
INCORRECT_CODE = (
    "The code is not correct or has already been used. Enter the code your authenticator app "
    "shows now."
)


class AuthenticatorCode:
    """A code from an authenticator app (or a recovery code, all digits too) as GOV.UK asks
    for one: a hint, a numeric keyboard on phones, the code offered by the phone's own
    autofill, and a specific message when it is missing. Spaces in a code are ignored."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fields_worded(self, {"code": ("Code", "Enter the code from your authenticator app")})
        code = self.fields["code"]
        code.help_text = TOTP_CODE_HINT
        code.widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code"})

    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except forms.ValidationError as error:
            if error.code == "incorrect_code":
                raise forms.ValidationError(INCORRECT_CODE, code="incorrect_code") from error
            raise


class MfaAuthenticateForm(AuthenticatorCode, AllauthMfaAuthenticateForm):
    pass


class MfaReauthenticateForm(AuthenticatorCode, AllauthMfaReauthenticateForm):
    pass


class ActivateTOTPForm(AuthenticatorCode, AllauthActivateTOTPForm):
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


class MemberRoleForm(forms.Form):
    """An admin's choice of a member's role in their organisation."""

    role = forms.ChoiceField(
        label="Role",
        choices=Role.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select a role"},
    )
