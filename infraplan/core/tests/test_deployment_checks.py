"""What a deployment must get right, caught before a request is served: the profile's logo among
the static files (``infraplan check``, so ``migrate`` and ``runserver`` stop too), SITE_URL the
public https address and the client's address known behind a proxy (``check --deploy``), and the
environment variables for both."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from infraplan.core.checks import (
    client_address_behind_a_proxy,
    profile_logo_is_a_static_file,
    site_url_is_the_public_address,
)
from infraplan.core.profile import load_profile
from infraplan.core.testing.console import infraplan

PROFILE = Path(django_settings.BASE_DIR) / "profiles" / "kent-medway.toml"
LOGO = "branding/council-logo.svg"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n'


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def with_logo(settings, logo: str) -> None:
    profile = settings.AUTHORITY_PROFILE
    branding = profile.branding.model_copy(update={"logo": logo, "logo_alt": "The council"})
    settings.AUTHORITY_PROFILE = profile.model_copy(update={"branding": branding})


def logo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "council-static"
    (folder / "branding").mkdir(parents=True)
    (folder / LOGO).write_text(SVG, encoding="utf-8")
    return folder


# --- the checks, in process --------------------------------------------------------------------


def test_a_logo_the_static_files_do_not_have_is_an_error(settings):
    with_logo(settings, LOGO)

    [error] = profile_logo_is_a_static_file(None)

    assert error.id == "infraplan.E001" and error.is_serious()
    assert repr(LOGO) in error.msg
    assert (
        str(Path(django_settings.BASE_DIR) / "frontend" / "build") in error.msg
    )  # where it looked
    assert "BRANDING_STATIC_DIR" in error.hint


def test_a_logo_among_the_static_files_passes(settings, tmp_path):
    with_logo(settings, LOGO)
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, logo_folder(tmp_path)]

    assert profile_logo_is_a_static_file(None) == []


def test_no_logo_passes(settings):
    assert settings.AUTHORITY_PROFILE.branding.logo is None
    assert profile_logo_is_a_static_file(None) == []


@pytest.mark.parametrize(
    "site_url",
    ["http://127.0.0.1:8000", "https://localhost", "https://127.0.0.1", "https://[::1]:8443",
     "http://maps.council.example", "maps.council.example"],
)  # fmt: skip
def test_a_local_or_plain_http_site_url_is_a_deploy_warning(settings, site_url):
    settings.DEBUG = False
    settings.SITE_URL = site_url

    [warning] = site_url_is_the_public_address(None)

    assert warning.id == "infraplan.W002"
    assert repr(site_url) in warning.msg


@pytest.mark.parametrize(
    "site_url", ["https://maps.council.example", "https://maps.council.example/"]
)
def test_the_public_https_address_passes(settings, site_url):
    settings.DEBUG = False
    settings.SITE_URL = site_url
    assert site_url_is_the_public_address(None) == []


def test_while_debugging_the_local_site_url_passes(settings):
    settings.DEBUG = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    assert site_url_is_the_public_address(None) == []


def test_behind_a_proxy_without_the_client_s_address_is_a_deploy_warning(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None

    assert ids(client_address_behind_a_proxy(None)) == ["infraplan.W003"]

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert client_address_behind_a_proxy(None) == []
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    assert client_address_behind_a_proxy(None) == []


def test_with_no_proxy_there_is_no_client_address_to_find(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    assert client_address_behind_a_proxy(None) == []


@pytest.mark.parametrize("logo", ["/etc/logo.svg", "../logo.svg", "branding/../../logo.svg"])
def test_a_logo_outside_the_static_files_is_refused_with_the_profile(tmp_path, logo):
    path = tmp_path / "profile.toml"
    branding = f'[branding]\nlogo = "{logo}"\nlogo_alt = "The council"\n'
    path.write_text(PROFILE.read_text(encoding="utf-8").replace("[branding]\n", branding))

    with pytest.raises(ImproperlyConfigured, match=r"branding\.logo: .* is not a path under"):
        load_profile(path)


# --- the environment, through the console script -----------------------------------------------


def setting(environ: dict[str, str], name: str, cwd: Path) -> str:
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    result = infraplan(environ, "shell", "--no-imports", "-c", code, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def profile_with_logo(tmp_path: Path) -> Path:
    text = PROFILE.read_text(encoding="utf-8")
    assert text.count("[branding]\n") == 1
    path = tmp_path / "profile.toml"
    logo = f'[branding]\nlogo = "{LOGO}"\nlogo_alt = "The council"\n'
    path.write_text(text.replace("[branding]\n", logo), encoding="utf-8")
    return path


def test_check_stops_on_a_logo_the_static_files_do_not_have(environ, tmp_path):
    environ["AUTHORITY_PROFILE"] = str(profile_with_logo(tmp_path))

    result = infraplan(environ, "check", cwd=tmp_path)

    assert result.returncode != 0
    assert f"(infraplan.E001) The authority profile's branding logo '{LOGO}'" in result.stderr


def test_the_authority_s_static_folder_holds_the_logo(environ, tmp_path):
    folder = logo_folder(tmp_path)
    environ |= {
        "AUTHORITY_PROFILE": str(profile_with_logo(tmp_path)),
        "BRANDING_STATIC_DIR": str(folder),
    }

    result = infraplan(environ, "check", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert str(folder) in setting(environ, "STATICFILES_DIRS", tmp_path)


def test_a_static_folder_that_is_not_there_stops_start_up(environ, tmp_path):
    environ["BRANDING_STATIC_DIR"] = str(tmp_path / "nowhere")

    result = infraplan(environ, "check", cwd=tmp_path)

    assert result.returncode != 0
    assert "BRANDING_STATIC_DIR is" in result.stderr and "which is not a folder" in result.stderr


def test_the_trusted_proxies_reach_the_sign_in_rate_limits(environ, tmp_path):
    assert setting(environ, "ALLAUTH_TRUSTED_PROXY_COUNT", tmp_path) == "0"
    assert setting(environ, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", tmp_path) == "None"
    proxies = environ | {"TRUSTED_PROXY_COUNT": "2"}
    assert setting(proxies, "ALLAUTH_TRUSTED_PROXY_COUNT", tmp_path) == "2"
    header = environ | {"TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"}
    assert setting(header, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", tmp_path) == "'X-Real-IP'"


def test_trusting_both_proxies_and_a_header_stops_start_up(environ, tmp_path):
    environ |= {"TRUSTED_PROXY_COUNT": "1", "TRUSTED_CLIENT_IP_HEADER": "X-Real-IP"}

    result = infraplan(environ, "check", cwd=tmp_path)

    assert result.returncode != 0
    assert "Set TRUSTED_PROXY_COUNT or TRUSTED_CLIENT_IP_HEADER, not both." in result.stderr


def test_the_deploy_check_asks_for_the_public_site_url(environ, tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text(
        PROFILE.read_text(encoding="utf-8").replace("@example.org", "@council.example"),
        encoding="utf-8",
    )
    environ |= {
        "AUTHORITY_PROFILE": str(profile), "DEBUG": "false", "SECURE_COOKIES": "true",
        "ALLOWED_HOSTS": "maps.council.example",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.council.example",
    }  # fmt: skip
    arguments = ("check", "--deploy", "--fail-level", "WARNING")

    unset = infraplan(environ, *arguments, cwd=tmp_path)
    assert unset.returncode != 0
    assert "(infraplan.W002) SITE_URL is 'http://127.0.0.1:8000'" in unset.stderr

    environ["SITE_URL"] = "https://maps.council.example"
    result = infraplan(environ, *arguments, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
