"""The URL matrix: every route, as every persona, with the status each must get.

A new route fails this test until it is added to CASES (or EXEMPT with a written reason), so no
page, tile or API endpoint can ship without its "who may see it" being decided and exercised.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PERSONAS = [
    "anonymous", "viewer_a", "contributor_a", "data_manager_a", "admin_a", "member_b",
    "platform_admin",
]  # fmt: skip
SIGNED_IN = [name for name in PERSONAS if name != "anonymous"]
# Who also asks each page with HEAD: one refused most pages, one allowed most, one in between.
HEAD_PERSONAS = ["anonymous", "viewer_a", "platform_admin"]
ORGANISATION_A = ["viewer_a", "contributor_a", "data_manager_a", "admin_a", "platform_admin"]
MANAGERS_A = dict.fromkeys(["data_manager_a", "admin_a", "platform_admin"], 200)
ADMINS_A = dict.fromkeys(["admin_a", "platform_admin"], 200)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


@dataclass(frozen=True)
class Case:
    expect: dict[str, int]
    kwargs: dict = field(default_factory=dict)
    method: str = "get"
    note: str = ""
    query: str = ""


def restricted_to_a(**kwargs) -> Case:
    """The route for organisation A's restricted dataset: outsiders cannot tell it exists."""
    return Case(
        {**everyone(404), **dict.fromkeys(ORGANISATION_A, 200)},
        kwargs={"slug": "a-only-sites", **kwargs},
        note="restricted to organisation A: outsiders cannot tell it exists",
    )


def managers_of_the_dataset() -> list[Case]:
    """A dataset's page for its managers (its data managers and its owner's admins)."""
    return [
        Case(
            {**everyone(404), "anonymous": 302, "platform_admin": 200},
            kwargs={"slug": "districts"},
            note="managers of the owner only (districts belongs to none of the personas' "
            "organisations); anonymous visitors are sent to sign in whatever the slug",
        ),
        Case(
            {**everyone(404), "anonymous": 302, **MANAGERS_A},
            kwargs={"slug": "a-only-sites"},
            note="organisation A's data managers and admins; viewers and outsiders get 404",
        ),
        Case(
            {**everyone(404), "anonymous": 302, **MANAGERS_A},
            kwargs={"slug": "a-only-sites"},
            method="post",
            note="an empty POST: managers get the form back with its errors; others 404",
        ),
        Case({**everyone(404), "anonymous": 302}, kwargs={"slug": "no-such-dataset"}),
    ]


def unknown_dataset(**kwargs) -> Case:
    return Case(everyone(404), kwargs={"slug": "no-such-dataset", **kwargs})


CASES: dict[str, list[Case]] = {
    "home": [Case(everyone(200))],
    "healthz": [Case(everyone(200))],
    "branding-css": [Case(everyone(200))],
    "accessibility": [Case(everyone(200))],
    "privacy": [Case(everyone(200))],
    "cookies": [Case(everyone(200))],
    "map": [Case(everyone(200))],
    # django-allauth's pages (sign-in, registration, passwords, 2FA, single sign-on).
    "account_login": [Case({"anonymous": 200, **dict.fromkeys(SIGNED_IN, 302)})],
    "account_logout": [
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)},
            note="GET asks to confirm; signing out itself is a POST a page cannot trigger",
        ),
        Case(everyone(302), method="post"),
    ],
    "account_signup": [
        Case({"anonymous": 200, **dict.fromkeys(SIGNED_IN, 302)}),
        Case(
            {"anonymous": 200, **dict.fromkeys(SIGNED_IN, 302)},
            method="post",
            note="an empty POST: the form back with its errors",
        ),
    ],
    "account_inactive": [Case(everyone(200), note="says only that an account is not active")],
    "account_email_verification_sent": [Case(everyone(200))],
    "account_confirm_email": [
        Case(everyone(200), kwargs={"key": "nonsense"}, note="an unknown key: says it is invalid"),
        Case(everyone(404), kwargs={"key": "nonsense"}, method="post"),
    ],
    "account_email": [Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)})],
    "account_change_password": [Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)})],
    "account_set_password": [
        Case(everyone(302), note="everyone here has a password: sent to change it instead")
    ],
    "account_reset_password": [Case(everyone(200))],
    "account_reset_password_done": [Case(everyone(200))],
    "account_reset_password_from_key": [
        Case(everyone(200), kwargs={"uidb36": "1", "key": "x-y"}, note="a bad key: says so")
    ],
    "account_reset_password_from_key_done": [Case(everyone(200))],
    "account_reauthenticate": [Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)})],
    "account_request_reauthentication_code": [
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)},
            note="offers to email a code to confirm it is them",
        )
    ],
    "account_confirm_reauthentication_code": [
        Case(everyone(302), note="sign-in by code is off: sent elsewhere")
    ],
    "account_confirm_login_code": [
        Case(everyone(302), note="sign-in by code is off: sent elsewhere")
    ],
    "mfa_index": [Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)})],
    "mfa_authenticate": [Case(everyone(302), note="only part-way through signing in")],
    "mfa_reauthenticate": [Case(everyone(302), note="only with a second factor set up")],
    "mfa_activate_totp": [
        Case(everyone(302), note="signed-in users are first asked for their password again")
    ],
    "mfa_deactivate_totp": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 404)}, note="no authenticator app")
    ],
    "mfa_view_recovery_codes": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 404)}, note="no recovery codes yet")
    ],
    "mfa_generate_recovery_codes": [
        Case(everyone(302), note="signed-in users are first asked for their password again")
    ],
    "mfa_download_recovery_codes": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 404)}, note="no recovery codes yet")
    ],
    "socialaccount_login_cancelled": [Case(everyone(200))],
    "socialaccount_login_error": [Case(everyone(401), note="says sign-in failed")],
    "socialaccount_signup": [Case(everyone(302), note="only part-way through single sign-on")],
    "socialaccount_connections": [Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)})],
    "openid_connect_login": [Case(everyone(404), kwargs={"provider_id": "no-such-provider"})],
    "openid_connect_callback": [Case(everyone(404), kwargs={"provider_id": "no-such-provider"})],
    # Registration with approval (infraplan.accounts).
    "registration-waiting": [Case(everyone(200))],
    "registration-list": [
        Case(
            {**everyone(404), "anonymous": 302, "admin_a": 200, "platform_admin": 200},
            note="organisation and platform admins; admins must also have used 2FA "
            "(infraplan/accounts/tests/test_two_factor.py)",
        ),
        Case(
            {**everyone(404), "anonymous": 302, "admin_a": 200, "platform_admin": 200},
            query="page=2",
            note="a page past the last: the last page (infraplan/accounts/tests/"
            "test_approvals_list.py)",
        ),
    ],
    "member-list": [
        Case(
            {**everyone(404), "anonymous": 302, "admin_a": 200, "platform_admin": 200},
            note="organisation and platform admins, with 2FA; whose members each sees is proved "
            "in infraplan/accounts/tests/test_members.py",
        )
    ],
    "member-role": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"pk": 0},
            note="no membership 0; who may change whose role is proved in "
            "infraplan/accounts/tests/test_members.py",
        )
    ],
    "member-remove": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"pk": 0},
            note="no membership 0; who may remove whom is proved in "
            "infraplan/accounts/tests/test_members.py",
        )
    ],
    "account-profile": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)}),
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 400)},
            method="post",
            note="an empty POST: the form back with its errors",
        ),
    ],
    "membership-leave": [
        Case(
            {
                **everyone(404),
                "anonymous": 302,
                **dict.fromkeys(ORGANISATION_A, 200),
                "platform_admin": 404,
            },
            kwargs={"slug": "org-a"},
            note="only members of organisation A have a membership there to leave",
        ),
    ],
    "account-delete": [
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)},
            note="the page that explains; deleting (POST) first asks the user to confirm it is "
            "them (infraplan/accounts/tests/test_account_pages.py)",
        )
    ],
    "registration-decide": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"pk": 0},
            method="post",
            note="no registration 0; who may decide is proved in "
            "infraplan/accounts/tests/test_registration.py",
        )
    ],
    "tile": [
        Case(everyone(200), kwargs={"slug": "districts", "z": 0, "x": 0, "y": 0}),
        restricted_to_a(z=12, x=2057, y=1368),
        unknown_dataset(z=0, x=0, y=0),
    ],
    "map-features": [Case(everyone(200), note="the authority's boundaries in its whole extent")],
    "map-png": [Case(everyone(200), note="the authority's boundaries in its whole extent")],
    "map-labels": [
        Case(everyone(200), kwargs={"slug": "districts"}),
        restricted_to_a(),
        unknown_dataset(),
    ],
    "map-feature": [
        Case(
            everyone(404),
            kwargs={"slug": "a-only-sites", "feature_id": 0},
            note="no feature 0; who sees real features (ids differ per run) is proved in "
            "infraplan/maps/tests/test_features.py",
        ),
        unknown_dataset(feature_id=1),
    ],
    "map-feature-page": [
        Case(
            everyone(404),
            kwargs={"slug": "a-only-sites", "feature_id": 0},
            note="no feature 0; who sees real features' pages is proved in "
            "infraplan/maps/tests/test_features.py",
        ),
        unknown_dataset(feature_id=1),
    ],
    "dataset-list": [Case(everyone(200))],
    "dataset-detail": [
        Case(everyone(200), kwargs={"slug": "districts"}),
        restricted_to_a(),
        unknown_dataset(),
    ],
    "dataset-metadata-xml": [
        Case(everyone(200), kwargs={"slug": "districts"}, note="the page's metadata as XML"),
        restricted_to_a(),
        unknown_dataset(),
    ],
    "dataset-new": [
        Case(
            {**everyone(403), "anonymous": 302, **MANAGERS_A},
            note="data managers and admins of an organisation, and platform admins",
        ),
        Case(
            {**everyone(403), "anonymous": 302, **MANAGERS_A},
            method="post",
            note="an empty POST: the form back with its errors; others refused",
        ),
    ],
    "dataset-details": managers_of_the_dataset(),
    "dataset-style": managers_of_the_dataset(),
    "dataset-withdraw": [
        Case(
            {**everyone(404), "anonymous": 302, **ADMINS_A},
            kwargs={"slug": "a-only-sites"},
            note="organisation A's admins and platform admins (after a second factor: "
            "infraplan/catalogue/tests/test_withdrawal.py); data managers and others get 404",
        ),
        Case(
            {**everyone(404), "anonymous": 302, **ADMINS_A},
            kwargs={"slug": "a-only-sites"},
            method="post",
            note="an empty POST: admins get the form back with its errors; others 404",
        ),
        Case({**everyone(404), "anonymous": 302}, kwargs={"slug": "no-such-dataset"}),
    ],
    "dataset-restore": [
        Case(
            {**everyone(404), "anonymous": 302, **dict.fromkeys(ADMINS_A, 302)},
            kwargs={"slug": "a-only-sites"},
            method="post",
            note="a dataset that is not withdrawn: admins are told so on its page; others 404 "
            "(restoring a withdrawn one: infraplan/catalogue/tests/test_withdrawal.py)",
        ),
        Case(
            {**everyone(405), "anonymous": 302},
            kwargs={"slug": "a-only-sites"},
            note="POST only: the button on the dataset page",
        ),
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "no-such-dataset"},
            method="post",
        ),
    ],
    "dataset-upload": [
        Case(
            {**everyone(404), "anonymous": 302, "platform_admin": 200},
            kwargs={"slug": "districts"},
            note="contributors of the owner or a contributing organisation (districts has "
            "neither among the personas); anonymous visitors are sent to sign in",
        ),
        Case(
            {**everyone(404), "anonymous": 302, "contributor_a": 200, **MANAGERS_A},
            kwargs={"slug": "a-only-sites"},
            note="organisation A's contributors and above; viewers and outsiders get 404",
        ),
        Case(
            {**everyone(404), "anonymous": 302, "contributor_a": 200, **MANAGERS_A},
            kwargs={"slug": "a-only-sites"},
            method="post",
            note="an empty POST: the form back with its errors; others 404",
        ),
        Case({**everyone(404), "anonymous": 302}, kwargs={"slug": "no-such-dataset"}),
    ],
    "dataset-run": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "run_id": 0},
            note="no run 0; who sees a real run (ids differ per run) is proved in "
            "infraplan/catalogue/tests/test_data_pages.py",
        ),
    ],
    "dataset-run-cancel": [
        Case(
            {**everyone(404), "anonymous": 302, "viewer_a": 403},
            kwargs={"slug": "a-only-sites", "run_id": 0},
            method="post",
            note="no run 0: those who may load into the dataset get 404, a viewer who may see "
            "it is refused before the run is looked up; who may cancel a real run is proved in "
            "infraplan/catalogue/tests/test_run_cancel_pages.py",
        ),
    ],
    "dataset-run-status": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "run_id": 0},
            note="no run 0; a real run's status is proved in "
            "infraplan/catalogue/tests/test_upload_pages.py",
        ),
    ],
    "dataset-version": [
        Case(everyone(200), kwargs={"slug": "districts", "number": 1}),
        restricted_to_a(number=1),
        unknown_dataset(number=1),
        Case(everyone(404), kwargs={"slug": "a-only-sites", "number": 99}, note="no version 99"),
    ],
    "dataset-version-report": [
        Case(everyone(200), kwargs={"slug": "districts", "number": 1}),
        restricted_to_a(number=1),
        unknown_dataset(number=1),
    ],
    "dataset-diff": [
        Case(everyone(200), kwargs={"slug": "districts", "old": 1, "new": 1}),
        restricted_to_a(old=1, new=1),
        Case(
            everyone(404),
            kwargs={"slug": "a-only-sites", "old": 1, "new": 2},
            note="no published version 2",
        ),
        unknown_dataset(old=1, new=1),
    ],
    "dataset-compare": [
        Case(
            everyone(400),
            kwargs={"slug": "districts"},
            note="no versions chosen: the form back with its errors",
        ),
        Case(
            {**everyone(404), **dict.fromkeys(ORGANISATION_A, 400)},
            kwargs={"slug": "a-only-sites"},
            note="restricted to organisation A: outsiders cannot tell it exists",
        ),
        unknown_dataset(),
    ],
    "dataset-rollback": [
        Case(
            {**everyone(404), "anonymous": 302, **MANAGERS_A},
            kwargs={"slug": "a-only-sites", "number": 1},
            note="organisation A's data managers and admins (version 1 is current: the page "
            "says there is nothing to roll back)",
        ),
        Case(
            {**everyone(404), "anonymous": 302, **dict.fromkeys(MANAGERS_A, 302)},
            kwargs={"slug": "a-only-sites", "number": 1},
            method="post",
            note="rolling back to the current version is refused with a message; others 404",
        ),
        Case({**everyone(404), "anonymous": 302}, kwargs={"slug": "no-such-dataset", "number": 1}),
    ],
    # Downloads (infraplan/exports): each format has its own route; what each holds is proved
    # in infraplan/exports/tests.
    **{
        f"dataset-download-{key}": [
            Case(everyone(200), kwargs={"slug": "districts"}),
            restricted_to_a(),
            unknown_dataset(),
        ]
        for key in ("csv", "xlsx", "geojson", "gpkg", "png")
    },
    "dataset-download": [
        Case(
            everyone(302),
            kwargs={"slug": "districts"},
            query="format=csv&area=E07000105",
            note="the dataset page's form: on to download.csv",
        ),
        Case(
            {**everyone(404), **dict.fromkeys(ORGANISATION_A, 302)},
            kwargs={"slug": "a-only-sites"},
            query="format=gpkg",
            note="restricted to organisation A: outsiders cannot tell it exists",
        ),
        unknown_dataset(),
    ],
    # OGC API - Features (infraplan/api): what each persona reads of a collection is proved in
    # infraplan/api/tests/test_access.py.
    "ogcapi-landing": [Case(everyone(200))],
    "ogcapi-openapi": [Case(everyone(200))],
    "ogcapi-conformance": [Case(everyone(200))],
    "ogcapi-collections": [
        Case(everyone(200), note="each lists what its persona may see (test_documents.py)")
    ],
    **{
        name: [
            Case(everyone(200), kwargs={"slug": "districts"}),
            restricted_to_a(),
            unknown_dataset(),
        ]
        for name in ("ogcapi-collection", "ogcapi-queryables", "ogcapi-items")
    },
    "ogcapi-item": [
        Case(
            everyone(404),
            kwargs={"slug": "a-only-sites", "feature_id": 0},
            note="no feature 0; who reads real features (ids differ per run) is proved in "
            "infraplan/api/tests/test_access.py",
        ),
        unknown_dataset(feature_id=1),
    ],
    "ogcapi-not-found": [
        Case(everyone(404), kwargs={"rest": "no-such-thing"}, note="an OGC exception")
    ],
    "source-new": [
        Case(
            {**everyone(404), "anonymous": 302, "platform_admin": 200},
            kwargs={"slug": "districts"},
            note="data managers of the dataset only (districts belongs to none of the personas' "
            "organisations); anonymous visitors are sent to sign in",
        ),
        Case(
            {**everyone(404), "anonymous": 302, **MANAGERS_A},
            kwargs={"slug": "a-only-sites"},
            note="organisation A's data managers and admins; contributors, viewers and "
            "outsiders get 404",
        ),
    ],
    "source-edit": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "source_id": 0},
            note="no source 0; that only data managers reach a real one is proved in "
            "infraplan/connectors/tests/test_source_pages.py",
        ),
    ],
    "source-delete": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "source_id": 0},
            note="no source 0; that only data managers reach a real one is proved in "
            "infraplan/connectors/tests/test_source_pages.py",
        ),
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "source_id": 0},
            method="post",
            note="no source 0",
        ),
    ],
    "source-refresh": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "source_id": 0},
            method="post",
            note="no source 0; that only data managers may refresh a real one is proved in "
            "infraplan/catalogue/tests/test_data_pages.py",
        ),
        Case(
            {**everyone(405), "anonymous": 302},
            kwargs={"slug": "a-only-sites", "source_id": 0},
            note="POST only",
        ),
    ],
    "search": [
        Case(
            everyone(200),
            note="the form for everyone; what a search finds obeys the gate "
            "(infraplan/places/tests/test_search.py)",
        ),
    ],
    "token-list": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)}),
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)},
            query="page=2",
            note="a page past the last: the last page",
        ),
    ],
    "token-create": [
        Case({"anonymous": 302, **dict.fromkeys(SIGNED_IN, 200)}),
        Case(
            {"anonymous": 302, **dict.fromkeys(SIGNED_IN, 400)},
            method="post",
            note="an empty POST: the form back with its errors",
        ),
    ],
    "token-revoke": [
        Case(
            {**everyone(404), "anonymous": 302},
            kwargs={"token_id": 0},
            note="no token 0; that only a token's owner may revoke it is proved in "
            "infraplan/tokens/tests/test_pages.py",
        ),
    ],
    "audit-list": [
        Case(
            {**everyone(404), "anonymous": 302, "platform_admin": 200},
            note="platform admins only; nobody else learns the viewer exists",
        ),
        Case(
            {**everyone(404), "anonymous": 302, "platform_admin": 200},
            query="q=layer&page=2",
            note="a page past the last of the filtered entries: the last page",
        ),
    ],
    "audit-export": [Case({**everyone(404), "anonymous": 302, "platform_admin": 200})],
    "national-list": [
        Case(
            {**everyone(403), "anonymous": 302, "platform_admin": 200},
            note="platform admins only; the national datasets are public, so others are refused",
        )
    ],
    **{
        name: [
            Case(
                {**everyone(403), "anonymous": 302, "platform_admin": 404},
                kwargs={"slug": "no-such-dataset"},
                method="post",
                note="no such national dataset; switching a real one is proved in "
                "infraplan/connectors/tests/test_national.py",
            )
        ]
        for name in ("national-switch-on", "national-switch-off")
    },
}

EXEMPT = {
    "<unnamed social/": "django-allauth's old single sign-on paths: permanent redirects to the "
    "socialaccount_* routes above, which are in the matrix.",
    "admin:": "Django's admin: every page requires staff status; "
    "test_admin_is_for_platform_admins_only below proves the gate on its index and a model page.",
}


def route_names(resolver: URLResolver | None = None, namespace: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    names = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names.extend(route_names(entry, inner))
        elif isinstance(entry, URLPattern):
            names.append(
                f"{namespace}{entry.name}"
                if entry.name
                else f"{namespace}<unnamed {entry.pattern}>"
            )
    return names


def is_exempt(name: str) -> bool:
    return any(name.startswith(prefix) for prefix in EXEMPT)


def test_every_route_is_in_the_matrix():
    missing = sorted({name for name in route_names() if name not in CASES and not is_exempt(name)})
    assert missing == [], f"Add these routes to CASES (or EXEMPT, with a reason): {missing}"
    stale = sorted(set(CASES) - set(route_names()))
    assert stale == [], f"These CASES name routes that no longer exist: {stale}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "index"),
    [(name, index) for name, cases in CASES.items() for index in range(len(cases))],
)
def test_route_as_every_persona(name, index, personas, districts, restricted, client_as):
    case = CASES[name][index]
    url = reverse(name, kwargs=case.kwargs) + (f"?{case.query}" if case.query else "")
    seen, heads = {}, {}
    for persona, user in personas.all().items():
        response = getattr(client_as(user), case.method)(url)
        seen[persona] = response.status_code
        if case.method == "get" and persona in HEAD_PERSONAS:
            # A link checker, a monitor or a proxy asks HEAD: GET's answer without its body.
            head = client_as(user).head(url)
            heads[persona] = head.status_code
            body = b"".join(head.streaming_content) if head.streaming else head.content
            assert body == b"", (persona, "HEAD answered with a body")
    expected = {persona: case.expect[persona] for persona in PERSONAS}
    # A 200 for a tile may be a 204 where the tile is empty; both mean "allowed".
    assert {p: 200 if s == 204 else s for p, s in seen.items()} == expected, case.note
    if case.method == "get":
        assert heads == {p: seen[p] for p in HEAD_PERSONAS}, "HEAD must be answered as GET is"


@pytest.mark.django_db
def test_admin_is_for_platform_admins_only(personas, client_as):
    for url in (reverse("admin:index"), reverse("admin:catalogue_dataset_changelist")):
        for persona, user in personas.all().items():
            response = client_as(user).get(url)
            if persona == "platform_admin":
                assert response.status_code == 200, url
            else:
                assert response.status_code == 302, (persona, url)
                assert response["Location"].startswith(reverse("admin:login"))
