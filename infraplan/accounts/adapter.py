"""How django-allauth fits the service: registration with approval after the address is verified,
and a security event for every sign-in attempt. Which addresses may register is the sign-up
form's rule (see ``forms.SignupForm.clean_email``)."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from infraplan.audit.security import security_event

from .models import RegistrationStatus
from .selectors import registration_latest


@dataclass(frozen=True)
class ServiceSite:
    """What allauth's mails call the site ("Hello from …", "Thank you for using …"): the
    service's name and address, not the host and port the request happened to come in by."""

    name: str
    domain: str


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": "The email address or password is not correct.",
        "enter_current_password": "Your current password is not correct.",
        "incorrect_password": "The password is not correct.",
        "rate_limited": "You have tried too many times. Wait a few minutes, then try again.",
        "too_many_login_attempts": (
            "Too many failed attempts to sign in. Try again in "
            f"{settings.LOGIN_LOCKOUT_MINUTES} minutes."
        ),
    }

    # The other ways to confirm it is you, as the pages that ask offer them, by method id.
    REAUTHENTICATION_WORDING = {
        "reauthenticate": "Use your password instead",
        "reauthenticate_by_code": "Email me a code instead",
        "mfa_reauthenticate": "Use a code from your authenticator app instead",
    }

    def get_reauthentication_methods(self, user) -> list[dict]:
        methods = super().get_reauthentication_methods(user)
        for method in methods:
            method["description"] = self.REAUTHENTICATION_WORDING.get(
                method["id"], method["description"]
            )
        return methods

    # Setting up an authenticator app also makes the first recovery codes, and allauth then adds
    # two banners: the set-up's (which says to save the codes) and "You have new recovery codes.
    # Your old ones no longer work.", meant for codes made again, which the person never had.
    _APP_SET_UP = "mfa/messages/totp_activated.txt"
    _CODES_MADE = "mfa/messages/recovery_codes_generated.txt"

    def add_message(
        self, request: HttpRequest, level: int, message_template: str | None = None,
        message_context: dict | None = None, extra_tags: str = "", message: str | None = None,
    ) -> None:  # fmt: skip
        """allauth's banners, but the codes' banner is left out where the request has just set
        up an app (allauth adds the two, in that order, as the set-up commits)."""
        if message_template == self._APP_SET_UP:
            request.infraplan_app_set_up = True
        elif message_template == self._CODES_MADE and getattr(
            request, "infraplan_app_set_up", False
        ):
            return
        super().add_message(request, level, message_template, message_context, extra_tags, message)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        site = ServiceSite(
            name=settings.AUTHORITY_PROFILE.authority.service_name,
            domain=urlsplit(settings.SITE_URL).netloc,
        )
        super().send_mail(template_prefix, email, {"current_site": site, **context})

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):
        user.full_name = form.cleaned_data.get("full_name", "")
        return super().save_user(request, user, form, commit)

    def respond_user_inactive(self, request: HttpRequest, user) -> HttpResponse:
        """The right password for an inactive account: say why it cannot sign in (waiting for
        approval, rejected, or deactivated). Only someone who knows the password sees this."""
        security_event("signin.failed", outcome="failure", request=request, user=user,
                       reason="inactive")  # fmt: skip
        return render(
            request, "account/account_inactive.html", {"registration": registration_latest(user)}
        )

    def get_email_verification_redirect_url(self, email_address) -> str:
        registration = registration_latest(email_address.user)
        if registration is not None and registration.status == RegistrationStatus.PENDING:
            return reverse("registration-waiting")
        return super().get_email_verification_redirect_url(email_address)

    def login(self, request: HttpRequest, user) -> None:
        super().login(request, user)
        security_event("signin", request=request, user=user)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError:
            security_event(
                "signin.locked_out", outcome="failure", request=request,
                email=credentials.get("email", ""),
            )  # fmt: skip
            raise

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        security_event(
            "signin.failed", outcome="failure", request=request,
            email=credentials.get("email", ""), reason="credentials",
        )  # fmt: skip
