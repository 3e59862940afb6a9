"""django-allauth's pages in the service's words: each one a person can reach has a GOV.UK
sentence-case heading that its title repeats, fields with specific messages when left empty,
two-factor codes asked for as GOV.UK asks, and the authenticator app's secret key given as text.

The URL names allauth registers, and which of them reach a page here (see tests/test_url_matrix.py):
account_login, account_signup, account_inactive and account_confirm_email were the service's
already (signup's and confirm_email's titles now follow their headings); account_logout,
account_email_verification_sent, account_reset_password (and _done, _from_key, _from_key_done),
account_change_password, account_set_password, account_email, account_reauthenticate,
account_request_reauthentication_code, account_confirm_reauthentication_code, mfa_index,
mfa_authenticate, mfa_reauthenticate, mfa_activate_totp, mfa_deactivate_totp,
mfa_view_recovery_codes and mfa_generate_recovery_codes are overridden (templates/account,
templates/mfa). account_confirm_login_code is always a redirect (sign-in by emailed code is off);
mfa_download_recovery_codes is a text file; the socialaccount_* pages are single sign-on's.
"""

import html
import re
from collections.abc import Callable

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from infraplan.accounts.services import user_create
from infraplan.accounts.testing import link_in, totp_code
from infraplan.core.testing.personas import PASSWORD

pytestmark = pytest.mark.django_db

SERVICE = settings.AUTHORITY_PROFILE.authority.service_name
# allauth's own wording, none of which may be left on a page.
ALLAUTH_WORDING = [
    "Confirm Access", "reauthenticate", "Activate Authenticator App", "Authenticator App",
    "Password Reset", "Reset My Password", "Two-Factor Authentication", "Verify Your Email",
    "finalize", "Sign In", "Sign Out", "Change Password", "Set Password", "Email Addresses",
    "Make Primary", "Re-send Verification", "Add Email", "Bad Token", "Recovery Codes",
    "Authenticator secret", "Please", "Alternative options", "Send me a sign-in code",
]  # fmt: skip


def title_and_heading(response) -> tuple[str, str]:
    """The page's title without the service's name, and its main heading, as text."""
    page = response.content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    [heading] = re.findall(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    return (
        html.unescape(" ".join(title.split())).removesuffix(f" \N{EN DASH} {SERVICE}"),
        html.unescape(" ".join(re.sub(r"<[^>]+>", " ", heading).split())),
    )


def main_content(response) -> str:
    return response.content.decode().split('id="main-content"', 1)[1].split("</main>", 1)[0]


def reauthenticated(client: Client) -> Client:
    """``client`` after confirming the password again, as changes to two-factor settings ask."""
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    return client


def with_app(personas, client_as) -> Client:
    """admin_a, with an authenticator app and recovery codes, just after confirming it is them."""
    TOTP.activate(personas.admin_a, generate_totp_secret())
    RecoveryCodes.activate(personas.admin_a)
    return reauthenticated(client_as(personas.admin_a))


def part_signed_in(personas) -> Client:
    """admin_a (given an app if they have none) after their password, before their code."""
    if not is_mfa_enabled(personas.admin_a):
        TOTP.activate(personas.admin_a, generate_totp_secret())
    client = Client()
    client.post(reverse("account_login"), {"login": "admin@a.example", "password": PASSWORD})
    return client


def reset_link(client: Client, mailoutbox) -> str:
    client.post(reverse("account_reset_password"), {"email": "viewer@a.example"})
    return link_in(mailoutbox[-1], "/accounts/password/reset/key/")


def confirming_a_taken_address(personas):
    """A link to confirm, for member_b, an address viewer_a has confirmed already."""
    address = EmailAddress.objects.create(
        user=personas.member_b, email="viewer@a.example", verified=False
    )
    key = EmailConfirmationHMAC(address).key
    return Client().get(reverse("account_confirm_email", args=[key]))


def code_emailed(personas, client_as) -> Client:
    client = client_as(personas.viewer_a)
    client.post(reverse("account_request_reauthentication_code"), {"recipient": "viewer@a.example"})
    return client


Fetch = Callable[..., object]
PAGES: dict[str, tuple[str, Fetch]] = {
    "account_signup": (
        "Register for an account",
        lambda personas, client_as, mail: Client().get(reverse("account_signup")),
    ),
    "account_confirm_email (an address another account has confirmed)": (
        "This address cannot be confirmed",
        lambda personas, client_as, mail: confirming_a_taken_address(personas),
    ),
    "account_logout": (
        "Sign out",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(
            reverse("account_logout")
        ),
    ),
    "account_email_verification_sent": (
        "Check your email",
        lambda personas, client_as, mail: Client().get(reverse("account_email_verification_sent")),
    ),
    "account_reset_password": (
        "Reset your password",
        lambda personas, client_as, mail: Client().get(reverse("account_reset_password")),
    ),
    "account_reset_password_done": (
        "Check your email",
        lambda personas, client_as, mail: Client().get(reverse("account_reset_password_done")),
    ),
    "account_reset_password_from_key": (
        "Reset your password",
        lambda personas, client_as, mail: (client := Client()).get(
            reset_link(client, mail), follow=True
        ),
    ),
    "account_reset_password_from_key (a used or wrong link)": (
        "This link has expired or has been used",
        lambda personas, client_as, mail: Client().get(
            reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "x-y"})
        ),
    ),
    "account_reset_password_from_key_done": (
        "Your password has been reset",
        lambda personas, client_as, mail: Client().get(
            reverse("account_reset_password_from_key_done")
        ),
    ),
    "account_change_password": (
        "Change your password",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(
            reverse("account_change_password")
        ),
    ),
    "account_set_password": (
        "Create a password",
        lambda personas, client_as, mail: client_as(
            user_create(actor=None, email="single-sign-on@a.example", password=None)
        ).get(reverse("account_set_password")),
    ),
    "account_email": (
        "Email addresses",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(
            reverse("account_email")
        ),
    ),
    "account_reauthenticate": (
        "Confirm it's you",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(
            reverse("account_reauthenticate")
        ),
    ),
    "account_request_reauthentication_code": (
        "Confirm it's you",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(
            reverse("account_request_reauthentication_code")
        ),
    ),
    "account_confirm_reauthentication_code": (
        "Check your email",
        lambda personas, client_as, mail: code_emailed(personas, client_as).get(
            reverse("account_confirm_reauthentication_code")
        ),
    ),
    "mfa_index": (
        "Two-factor authentication",
        lambda personas, client_as, mail: with_app(personas, client_as).get(reverse("mfa_index")),
    ),
    "mfa_index (no app yet)": (
        "Two-factor authentication",
        lambda personas, client_as, mail: client_as(personas.viewer_a).get(reverse("mfa_index")),
    ),
    "mfa_authenticate": (
        "Enter the code from your authenticator app",
        lambda personas, client_as, mail: part_signed_in(personas).get(reverse("mfa_authenticate")),
    ),
    "mfa_reauthenticate": (
        "Confirm it's you",
        lambda personas, client_as, mail: with_app(personas, client_as).get(
            reverse("mfa_reauthenticate")
        ),
    ),
    "mfa_activate_totp": (
        "Set up an authenticator app",
        lambda personas, client_as, mail: reauthenticated(client_as(personas.viewer_a)).get(
            reverse("mfa_activate_totp")
        ),
    ),
    "mfa_deactivate_totp": (
        "Remove your authenticator app",
        lambda personas, client_as, mail: with_app(personas, client_as).get(
            reverse("mfa_deactivate_totp")
        ),
    ),
    "mfa_view_recovery_codes": (
        "Your recovery codes",
        lambda personas, client_as, mail: with_app(personas, client_as).get(
            reverse("mfa_view_recovery_codes")
        ),
    ),
    "mfa_generate_recovery_codes": (
        "Get new recovery codes",
        lambda personas, client_as, mail: with_app(personas, client_as).get(
            reverse("mfa_generate_recovery_codes")
        ),
    ),
}


@pytest.mark.parametrize("page", PAGES)
def test_each_page_is_titled_as_headed_in_sentence_case_and_the_services_words(
    personas, client_as, mailoutbox, page
):
    heading, fetch = PAGES[page]
    response = fetch(personas, client_as, mailoutbox)
    assert response.status_code == 200
    assert title_and_heading(response) == (heading, heading)
    assert 'class="govuk-heading-l"' in main_content(response)
    text = html.unescape(re.sub(r"<[^>]+>", " ", main_content(response)))
    assert [words for words in ALLAUTH_WORDING if words in text] == []


def test_confirming_it_is_you_offers_the_other_ways_in_plain_words(personas, client_as):
    client = with_app(personas, client_as)
    page = client.get(reverse("mfa_reauthenticate")).content.decode()
    assert "Other ways to confirm it's you" in html.unescape(page)
    assert "Use your password instead" in page and "Email me a code instead" in page
    page = client.get(reverse("account_reauthenticate")).content.decode()
    assert "Use a code from your authenticator app instead" in page


def test_the_qr_code_has_a_meaningful_alt_and_the_secret_is_text_in_groups_of_four(
    personas, client_as
):
    client = reauthenticated(client_as(personas.viewer_a))
    response = client.get(reverse("mfa_activate_totp"))
    secret = response.context["form"].secret
    page = response.content.decode()

    [image] = re.findall(r"<img [^>]*>", main_content(response))
    assert f'alt="QR code to add {SERVICE} to your authenticator app"' in image
    assert secret not in page  # not as alt text, not anywhere in one unreadable run
    grouped = " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))
    shown = re.search(
        r'<dt class="govuk-summary-list__key">Secret key</dt>\s*'
        r'<dd class="govuk-summary-list__value"><code[^>]*>([^<]*)</code></dd>',
        page,
    )
    assert shown is not None and shown.group(1) == grouped
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", grouped)
    assert "viewer@a.example" in main_content(response)  # the account name for manual entry

    # The code, typed with a space as some apps show it, sets the app up.
    code = totp_code(secret)
    response = client.post(reverse("mfa_activate_totp"), {"code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 302


@pytest.mark.django_db(transaction=True)  # the banners are added as the set-up commits
def test_setting_up_an_app_says_so_once_and_not_that_old_codes_stopped_working(personas, client_as):
    """allauth adds the set-up's banner (save your recovery codes) and not "You have new
    recovery codes. Your old ones no longer work.", since the person had none. Codes made
    again later still say so."""
    client = reauthenticated(client_as(personas.viewer_a))
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)}, follow=True)
    page = response.content.decode()
    assert page.count("Your authenticator app is set up.") == 1
    assert "Your old ones no longer work" not in page

    response = client.post(reverse("mfa_generate_recovery_codes"), follow=True)
    assert "You have new recovery codes. Your old ones no longer work." in (
        response.content.decode()
    )


CODE_FIELD_PAGES = {
    "mfa_activate_totp": lambda personas, client_as: reauthenticated(
        client_as(personas.viewer_a)
    ).get(reverse("mfa_activate_totp")),
    "mfa_authenticate": lambda personas, client_as: part_signed_in(personas).get(
        reverse("mfa_authenticate")
    ),
    "mfa_reauthenticate": lambda personas, client_as: with_app(personas, client_as).get(
        reverse("mfa_reauthenticate")
    ),
}


@pytest.mark.parametrize("page", CODE_FIELD_PAGES)
def test_code_fields_ask_for_digits_offer_the_phones_code_and_give_the_hint(
    personas, client_as, page
):
    response = CODE_FIELD_PAGES[page](personas, client_as)
    [field] = re.findall(r'<input [^>]*name="code"[^>]*>', response.content.decode())
    assert 'inputmode="numeric"' in field
    assert 'autocomplete="one-time-code"' in field
    assert 'aria-describedby="id_code-hint"' in field
    assert "placeholder" not in field
    assert re.search(
        r'<div id="id_code-hint" class="govuk-hint">'
        r"The 6-digit code shown in your authenticator app</div>",
        response.content.decode(),
    )


def test_the_recovery_codes_are_listed_as_text_in_groups_of_four(personas, client_as):
    client = with_app(personas, client_as)
    codes = RecoveryCodes.activate(personas.admin_a).get_unused_codes()
    response = client.get(reverse("mfa_view_recovery_codes"))
    listed = re.search(
        r'<h2 class="govuk-heading-m" id="recovery-codes-heading">Unused recovery codes</h2>\s*'
        r'<ul class="govuk-list" aria-labelledby="recovery-codes-heading">(.*?)</ul>',
        response.content.decode(),
        re.S,
    )
    assert listed is not None
    assert re.findall(r"<li><code>([^<]*)</code></li>", listed.group(1)) == [
        f"{code[:4]} {code[4:]}" for code in codes
    ]
    assert "<textarea" not in response.content.decode()
    # A code typed as shown, with its space, signs in.
    client = part_signed_in(personas)
    grouped = f"{codes[0][:4]} {codes[0][4:]}"
    assert client.post(reverse("mfa_authenticate"), {"code": grouped}).status_code == 302


REQUIRED: dict[str, tuple[Callable, str, dict, list[str]]] = {
    "sign in": (
        lambda personas, client_as: Client(),
        "account_login",
        {"login": "", "password": ""},
        ["Enter your email address", "Enter your password"],
    ),
    "register": (
        lambda personas, client_as: Client(),
        "account_signup",
        {"full_name": "", "email": "", "password1": "", "password2": ""},
        [
            "Enter your full name",
            "Enter your work email address",
            "Enter a password",
            "Enter the password again to confirm it",
        ],
    ),
    "reset your password": (
        lambda personas, client_as: Client(),
        "account_reset_password",
        {"email": ""},
        ["Enter your email address"],
    ),
    "change your password": (
        lambda personas, client_as: client_as(personas.viewer_a),
        "account_change_password",
        {"oldpassword": "", "password1": "", "password2": ""},
        [
            "Enter your current password",
            "Enter a new password",
            "Enter the new password again to confirm it",
        ],
    ),
    "add an email address": (
        lambda personas, client_as: client_as(personas.viewer_a),
        "account_email",
        {"action_add": "", "email": ""},
        ["Enter the work email address to add"],
    ),
    "confirm it's you with your password": (
        lambda personas, client_as: client_as(personas.viewer_a),
        "account_reauthenticate",
        {"password": ""},
        ["Enter your password"],
    ),
    "confirm it's you with an emailed code": (
        code_emailed,
        "account_confirm_reauthentication_code",
        {"code": ""},
        ["Enter the code from the email"],
    ),
    "the code after the password": (
        lambda personas, client_as: part_signed_in(personas),
        "mfa_authenticate",
        {"code": ""},
        ["Enter the code from your authenticator app"],
    ),
    "confirm it's you with the app": (
        with_app,
        "mfa_reauthenticate",
        {"code": ""},
        ["Enter the code from your authenticator app"],
    ),
    "set up an authenticator app": (
        lambda personas, client_as: reauthenticated(client_as(personas.viewer_a)),
        "mfa_activate_totp",
        {"code": ""},
        ["Enter the code from your authenticator app"],
    ),
}


@pytest.mark.parametrize("form", REQUIRED)
def test_empty_fields_get_specific_messages_in_the_summary_and_at_the_field(
    personas, client_as, form
):
    make_client, name, data, messages = REQUIRED[form]
    response = make_client(personas, client_as).post(reverse(name), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This field is required" not in page
    summary = page.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    for message in messages:
        assert f"{message}</a></li>" in summary, message
        assert f'<span class="govuk-visually-hidden">Error:</span> {message}</p>' in page, message
    assert title_and_heading(response)[0].startswith("Error: ")


def test_a_wrong_code_says_what_to_do(personas):
    client = part_signed_in(personas)
    page = client.post(reverse("mfa_authenticate"), {"code": "123456"}).content.decode()
    assert "The code is not correct or has already been used. Enter the code your " in page
    assert "Incorrect code." not in page


def test_the_banners_after_two_factor_changes_use_the_pages_words(personas, client_as):
    # Setting up and new codes add their banners once the transaction commits, which a test's
    # never does: their wording is read from the templates.
    assert render_to_string("mfa/messages/totp_activated.txt").startswith(
        "Your authenticator app is set up. Save your recovery codes now"
    )
    assert render_to_string("mfa/messages/recovery_codes_generated.txt").startswith(
        "You have new recovery codes. Your old ones no longer work."
    )
    client = with_app(personas, client_as)
    page = client.post(reverse("mfa_deactivate_totp"), follow=True)
    assert "Your authenticator app has been removed" in page.content.decode()


def test_a_wrong_password_says_which_one_is_wrong(personas, client_as):
    client = client_as(personas.viewer_a)
    page = client.post(reverse("account_reauthenticate"), {"password": "not it"}).content.decode()
    assert "The password is not correct." in page and "Incorrect password" not in page
    page = client.post(
        reverse("account_change_password"),
        {"oldpassword": "not it", "password1": "x" * 20, "password2": "x" * 20},
    ).content.decode()
    assert "Your current password is not correct." in page and "Please type" not in page
