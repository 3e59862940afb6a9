"""Why a single sign-on was refused: a reason for the security log, a message for the person."""

from allauth.socialaccount.providers.oauth2.client import OAuth2Error


class SignInRefused(OAuth2Error):
    """An OpenID Connect sign-in that must not go ahead.

    ``reason`` is a short stable word for the security event (``state``, ``nonce``, ``issuer``,
    ``audience``, ``expired``, ``signature``, ``tenant``, ``email``, ``disabled`` ...); ``message``
    is shown to the person and never names a secret. Subclassing allauth's ``OAuth2Error`` lets
    its callback view hand the refusal to our adapter's ``on_authentication_error``.
    """

    def __init__(self, reason: str, message: str, **detail: object) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.detail = detail
