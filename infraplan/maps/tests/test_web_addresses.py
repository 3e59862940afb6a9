"""Which values of a feature are web addresses, shown as links in its pop-up and on its page."""

import pytest

from infraplan.maps.web_addresses import MAX_WEB_ADDRESS_LENGTH, web_address

SITE_PLAN = "https://www.ashford.gov.uk/media/5754/be16.pdf"  # a brownfield register's


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (SITE_PLAN, SITE_PLAN),
        ("http://www.example.org/", "http://www.example.org/"),
        (
            "  https://example.org/plan?id=4&kind=a#top \n",
            "https://example.org/plan?id=4&kind=a#top",
        ),
        ("HTTP://EXAMPLE.ORG/Plan.PDF", "HTTP://EXAMPLE.ORG/Plan.PDF"),  # a scheme in any case
        ("https://localhost:8000/x", "https://localhost:8000/x"),
        ('https://example.org/?q=<b>"x"</b>', 'https://example.org/?q=<b>"x"</b>'),  # escaped later
    ],
)
def test_one_http_or_https_address_is_a_link(text, address):
    assert web_address(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "JavaScript://example.org/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "mailto:planning@example.org",
        "ftp://example.org/plan.pdf",
        "/datasets/sites/",  # relative
        "//example.org/plan.pdf",  # no scheme
        "www.example.org",  # no scheme: not guessed
        "https://www.gov.uk@elsewhere.example/plan.pdf",  # reads as one site, leads to another
        "https://user:secret@example.org/plan.pdf",
        "https://",
        "https:///plan.pdf",  # no host
        "https://exa mple.org/",  # a space inside
        "https://example.org/site plan.pdf",
        "https://example.org/\tplan.pdf",
        "See https://example.org/plan.pdf",  # among other words
        "https://example.org/a https://example.org/b",  # two addresses
        "https://example.org/\u202efdp.exe",  # a right-to-left override: the text would lie
        "https://example.org/\u200bplan",  # an invisible character
        "",
        "Yes",
        "3",
    ],
)
def test_anything_else_stays_text(text):
    assert web_address(text) is None


def test_a_very_long_address_stays_text():
    at_most = "https://example.org/" + "a" * (MAX_WEB_ADDRESS_LENGTH - len("https://example.org/"))
    assert len(at_most) == MAX_WEB_ADDRESS_LENGTH
    assert web_address(at_most) == at_most
    assert web_address(at_most + "a") is None
