"""Configuration: a bad environment or authority profile stops start-up, naming what to fix.

The start-up tests run the real console script (``infraplan check``) in a subprocess whose
environment is built from scratch: a few named variables, nothing inherited by accident. Each bad
case changes one variable of an environment that ``test_a_valid_environment_passes_check``
proves good, so the change, and nothing else, is what stops it.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from infraplan.core import env
from infraplan.core.profile import load_profile
from infraplan.core.testing.console import infraplan

KENT_PROFILE = Path(settings.BASE_DIR) / "profiles" / "kent-medway.toml"
STOPPED = "infraplan: configuration error: "


def assert_stops_with(result: subprocess.CompletedProcess, message: str) -> None:
    """Start-up failed with a one-line configuration error saying ``message`` (no traceback)."""
    assert result.returncode != 0, result.stdout + result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(STOPPED), result.stderr
    assert message in last_line
    assert "Traceback" not in result.stderr


def profile_copy(tmp_path: Path, replace: str, by: str, *, times: int = 1) -> Path:
    """A copy of the Kent profile with one edit (which must apply, so the case stays meaningful)."""
    text = KENT_PROFILE.read_text(encoding="utf-8")
    assert text.count(replace) == times, f"{replace!r} is not {times}x in {KENT_PROFILE}"
    path = tmp_path / "profile.toml"
    path.write_text(text.replace(replace, by), encoding="utf-8")
    return path


# --- start-up, in a subprocess -----------------------------------------------------------------


def test_a_valid_environment_passes_check(environ, tmp_path):
    result = infraplan(environ, "check", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


# Each case: variables to set (None removes one; "{tmp}" is the test's tmp_path) and the start of
# the error it must stop with, which names the setting.
BAD_ENVIRONMENTS = {
    "secret key missing": (
        {"SECRET_KEY_FILE": None},
        "SECRET_KEY (or SECRET_KEY_FILE) must be set.",
    ),
    "secret key file missing": (
        {"SECRET_KEY_FILE": "{tmp}/no-such-file"},
        "SECRET_KEY_FILE points to '{tmp}/no-such-file', which cannot be read: "
        "No such file or directory.",
    ),
    "secret key file is a directory": (
        {"SECRET_KEY_FILE": "{tmp}"},
        "SECRET_KEY_FILE points to '{tmp}', which cannot be read: Is a directory.",
    ),
    "database URL missing": (
        {"DATABASE_URL": None},
        "DATABASE_URL must be set (it is missing or empty).",
    ),
    "database URL not PostgreSQL": (
        {"DATABASE_URL": "mysql://infraplan:hunter2-db-password@127.0.0.1:3306/infraplan"},
        "DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:port/name), "
        "not a mysql URL.",
    ),
    "DEBUG not a boolean": (
        {"DEBUG": "maybe"},
        "DEBUG must be one of true/false/1/0/yes/no/on/off, not 'maybe'.",
    ),
    "security event log in a folder that does not exist": (
        {"SECURITY_EVENT_LOG": "{tmp}/no-such-folder/security.jsonl"},
        "SECURITY_EVENT_LOG is '{tmp}/no-such-folder/security.jsonl', whose folder does not exist.",
    ),
    "ALLOWED_HOSTS with an empty item": (
        {"ALLOWED_HOSTS": "infraplan.kent.gov.uk,,localhost"},
        "ALLOWED_HOSTS has an empty item in 'infraplan.kent.gov.uk,,localhost'.",
    ),
}


@pytest.mark.parametrize("case", BAD_ENVIRONMENTS)
def test_a_bad_environment_stops_start_up_naming_the_setting(environ, tmp_path, case):
    changes, message = BAD_ENVIRONMENTS[case]
    for name, value in changes.items():
        if value is None:
            del environ[name]
        else:
            environ[name] = value.format(tmp=tmp_path)

    result = infraplan(environ, "check", cwd=tmp_path)

    assert_stops_with(result, message.format(tmp=tmp_path))
    assert "hunter2" not in result.stdout + result.stderr  # no password in the output


# Each case: one edit to the Kent profile, and the field path and problem the error must name.
BAD_PROFILES = {
    "header colour not #rrggbb": (
        'header_colour = "#23305b"',
        'header_colour = "navy"',
        "branding.header_colour: String should match pattern",
    ),
    "header text unreadable on the header": (
        'header_text_colour = "#ffffff"',
        'header_text_colour = "#4a5a8a"',
        "branding: Value error, header_text_colour on header_colour has contrast 1.",
    ),
    "unknown field": (
        "[authority]\n",
        '[authority]\ntelephone = "03000 41 41 41"\n',
        "authority.telephone: Extra inputs are not permitted",
    ),
    "organisation's area not among the areas": (
        'area = "E07000106"',
        'area = "E07000199"',
        "organisations.2.area: E07000199 is not one of the areas",
    ),
}

# More cases, checked in process (cheaper): the same loader raises the same error at start-up.
MORE_BAD_PROFILES = {
    "area code not a GSS code": (
        'code = "E07000108"',
        'code = "Dover"',
        "areas.4.code: String should match pattern",
    ),
    "website not https": (
        'website = "https://www.kent.gov.uk"',
        'website = "http://www.kent.gov.uk"',
        "authority.website: String should match pattern '^https://'",
    ),
    "map bounds the wrong way round": (
        "bounds = [0.03, 50.91, 1.45, 51.49]",
        "bounds = [1.45, 51.49, 0.03, 50.91]",
        "map.bounds: Value error, bounds must be [min_lon, min_lat, max_lon, max_lat] in WGS84",
    ),
    "not TOML": (
        "[branding]",
        "[branding",
        "is not valid TOML",
    ),
    "organisation email domain in capitals": (
        'email_domains = ["dover.gov.uk"]',
        'email_domains = ["Dover.gov.uk"]',
        "organisations.4.email_domains: Value error, 'Dover.gov.uk' is not a lower-case domain",
    ),
}


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_a_bad_profile_stops_start_up_naming_the_field(environ, tmp_path, case):
    replace, by, problem = BAD_PROFILES[case]
    path = profile_copy(tmp_path, replace, by)
    environ["AUTHORITY_PROFILE"] = str(path)

    result = infraplan(environ, "check", cwd=tmp_path)

    assert_stops_with(result, f"AUTHORITY_PROFILE {path} ")
    assert problem in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("case", MORE_BAD_PROFILES)
def test_load_profile_names_the_field(tmp_path, case):
    replace, by, problem = MORE_BAD_PROFILES[case]
    path = profile_copy(tmp_path, replace, by)

    with pytest.raises(ImproperlyConfigured) as raised:
        load_profile(path)

    assert str(raised.value).startswith(f"AUTHORITY_PROFILE {path} ")
    assert problem in str(raised.value)


def test_load_profile_names_a_missing_file(tmp_path):
    path = tmp_path / "no-such-profile.toml"
    with pytest.raises(ImproperlyConfigured, match=r"cannot be read: No such file or directory"):
        load_profile(path)


SMTP = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.kent.gov.uk",
}


def test_deploy_check_warns_about_the_placeholder_contacts(environ, tmp_path):
    environ |= SMTP
    result = infraplan(environ, "check", "--deploy", cwd=tmp_path)

    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert (
        "(infraplan.W001) The authority profile's contact_email, accessibility_contact_email "
        "is a placeholder address." in result.stderr
    )


def test_deploy_check_is_clean_with_production_settings(environ, tmp_path):
    """DEBUG off, secure cookies, real host names and contacts: nothing to warn about, with no
    check silenced but gis.W001 (explained in settings)."""
    environ["AUTHORITY_PROFILE"] = str(
        profile_copy(tmp_path, "@example.org", "@kent.gov.uk", times=2)
    )
    environ |= {"DEBUG": "false", "SECURE_COOKIES": "true", "ALLOWED_HOSTS": "maps.kent.gov.uk"}
    environ |= {"SITE_URL": "https://maps.kent.gov.uk"}
    environ |= SMTP
    assert len(Path(environ["SECRET_KEY_FILE"]).read_text().strip()) >= 50

    result = infraplan(environ, "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_deploy_check_names_what_plain_http_serving_lacks(environ, tmp_path):
    """What `make run` turns off for plain http on 127.0.0.1 is what production must not."""
    environ["AUTHORITY_PROFILE"] = str(
        profile_copy(tmp_path, "@example.org", "@kent.gov.uk", times=2)
    )
    environ |= {"SECURE_COOKIES": "false", "SECURE_HSTS_SECONDS": "0"}

    result = infraplan(environ, "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path)

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, check


def test_deploy_check_refuses_email_that_is_only_printed(environ, tmp_path):
    """Registration needs real email: the console backend (the default) fails the deploy check."""
    result = infraplan(environ, "check", "--deploy", cwd=tmp_path)

    assert result.returncode != 0
    assert "mail.E001" in result.stderr


# --- the helpers in infraplan/core/env.py, in process ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), (" YES ", True), ("1", True), ("on", True), ("false", False),
     ("No", False), ("0", False), ("off", False)],
)  # fmt: skip
def test_boolean_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env.boolean("FLAG", default=not expected) is expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_boolean_unset_or_blank_is_the_default(monkeypatch, raw):
    monkeypatch.delenv("FLAG", raising=False)
    if raw is not None:
        monkeypatch.setenv("FLAG", raw)
    assert env.boolean("FLAG", default=True) is True
    assert env.boolean("FLAG", default=False) is False


def test_boolean_rejects_anything_else(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"^FLAG must be one of .* not 'maybe'\.$"):
        env.boolean("FLAG", default=False)


def test_integer_parses_and_checks_its_range(monkeypatch):
    monkeypatch.setenv("AGE", " 600 ")
    assert env.integer("AGE", default=1, minimum=300) == 600
    monkeypatch.delenv("AGE")
    assert env.integer("AGE", default=1, minimum=300) == 1  # the default is not range-checked
    monkeypatch.setenv("AGE", "ten")
    with pytest.raises(ImproperlyConfigured, match=r"^AGE must be a whole number, not 'ten'\.$"):
        env.integer("AGE", default=1)
    monkeypatch.setenv("AGE", "20")
    with pytest.raises(ImproperlyConfigured, match=r"^AGE must be at most 10, not 20\.$"):
        env.integer("AGE", default=1, minimum=1, maximum=10)
    monkeypatch.setenv("AGE", "5")
    with pytest.raises(ImproperlyConfigured, match=r"^AGE must be at least 300, not 5\.$"):
        env.integer("AGE", default=600, minimum=300)


def test_string_list_strips_items_and_copies_the_default(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example")
    assert env.string_list("HOSTS", default=[]) == ["a.example", "b.example"]
    monkeypatch.delenv("HOSTS")
    default = ["localhost"]
    hosts = env.string_list("HOSTS", default=default)
    hosts.append("evil.example")
    assert default == ["localhost"]


@pytest.mark.parametrize("raw", ["a,,b", "a,", ",a", " , "])
def test_string_list_rejects_empty_items(monkeypatch, raw):
    monkeypatch.setenv("HOSTS", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^HOSTS has an empty item in "):
        env.string_list("HOSTS", default=[])


def test_string_requires_a_value_unless_defaulted(monkeypatch):
    monkeypatch.setenv("NAME", "  ")
    with pytest.raises(ImproperlyConfigured, match=r"^NAME must be set \(it is missing or empty\)"):
        env.string("NAME")
    assert env.string("NAME", default="fallback") == "fallback"


def test_secret_comes_from_the_variable_or_its_file(monkeypatch, tmp_path):
    monkeypatch.delenv("TOKEN_FILE", raising=False)
    monkeypatch.setenv("TOKEN", "direct-value")
    assert env.secret("TOKEN") == "direct-value"

    monkeypatch.delenv("TOKEN")
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file\n")  # as `echo` writes it: the newline is not the secret
    monkeypatch.setenv("TOKEN_FILE", str(secret_file))
    assert env.secret("TOKEN") == "from-a-file"

    secret_file.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match=r"^TOKEN_FILE points to .*, which is empty\.$"):
        env.secret("TOKEN")


def test_secret_refuses_both_the_variable_and_its_file(monkeypatch, tmp_path):
    (tmp_path / "token").write_text("from-a-file")
    monkeypatch.setenv("TOKEN", "direct-value")
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "token"))
    with pytest.raises(ImproperlyConfigured, match=r"^Set TOKEN or TOKEN_FILE, not both\.$"):
        env.secret("TOKEN")


@pytest.mark.parametrize("value", [None, "", "   "])
def test_secret_missing_or_blank_names_both_variables(monkeypatch, value):
    monkeypatch.delenv("TOKEN_FILE", raising=False)
    monkeypatch.delenv("TOKEN", raising=False)
    if value is not None:
        monkeypatch.setenv("TOKEN", value)
    with pytest.raises(ImproperlyConfigured, match=r"^TOKEN \(or TOKEN_FILE\) must be set\.$"):
        env.secret("TOKEN")


def test_database_url_becomes_a_postgis_database(monkeypatch):
    monkeypatch.setenv("DB", "postgres://planner:s%40fe@db.internal:6543/infraplan")
    config = env.database_url("DB")
    assert config["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("infraplan", "planner", "s@fe")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 6543)
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (60, True)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgis", "pgsql"])
def test_database_url_accepts_the_postgresql_schemes(monkeypatch, scheme):
    monkeypatch.setenv("DB", f"{scheme}://u:p@localhost/infraplan")
    assert env.database_url("DB")["NAME"] == "infraplan"


@pytest.mark.parametrize("url", ["sqlite:///db.sqlite3", "mysql://u:secret-pw@h/d", "h:5432/d"])
def test_database_url_rejects_other_databases_without_echoing_the_url(monkeypatch, url):
    monkeypatch.setenv("DB", url)
    with pytest.raises(ImproperlyConfigured, match=r"^DB must be a PostgreSQL URL") as raised:
        env.database_url("DB")
    assert "secret-pw" not in str(raised.value)


def test_database_url_must_name_a_database(monkeypatch):
    monkeypatch.setenv("DB", "postgres://u:secret-pw@localhost:5432")
    with pytest.raises(ImproperlyConfigured, match=r"^DB must name a database") as raised:
        env.database_url("DB")
    assert "secret-pw" not in str(raised.value)


def test_the_kent_profile_is_valid_and_maps_email_domains():
    profile = load_profile(KENT_PROFILE)

    assert profile.authority.name == "Kent County Council"
    assert {area.code for area in profile.areas if area.in_phase_one} == {
        "E07000105", "E07000106", "E07000108", "E07000112", "E07000114",
    }  # fmt: skip
    assert profile.organisation_for_email("someone@Medway.gov.uk").slug == "medway"
    assert profile.organisation_for_email("someone@example.org") is None


def test_the_web_entry_point_imports_every_view_before_the_first_request(environ, tmp_path):
    """A worker that has just started answers its first request without first importing the
    views (the map's PNG renderer alone takes over half a second)."""
    probe = "import sys, config.wsgi; print('infraplan.maps.render' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], env={**environ, "PYTHONPATH": str(settings.BASE_DIR)},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
