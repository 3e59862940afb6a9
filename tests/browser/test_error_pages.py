"""The error pages a browser can reach by sending a form (a 400, the CSRF 403 and a 405): WCAG
2.2 A/AA by axe, and no CSP violation or script error on them."""

import pytest
from playwright.sync_api import Page, Response, expect

from .conftest import PageWatch, assert_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def context(served_context):
    """The forms are refused before anything is saved: these tests only read."""
    return served_context


def send_sign_in_form(page: Page, *, action: str = "", token: str | None = None,
                      extra_fields: int = 0) -> Response:  # fmt: skip
    """Send the sign-in page's form as a browser would, changed as the test needs: another
    address, another security token, or many extra fields; returns the answer. (Changed through
    DevTools, which the page's CSP does not govern.)"""
    page.goto("/accounts/login/")
    with page.expect_navigation() as navigation:
        page.evaluate(
            """([action, token, extraFields]) => {
                const form = document.querySelector("main form[method=post]");
                if (action) form.action = action;
                if (token !== null) form.elements.csrfmiddlewaretoken.value = token;
                for (let number = 0; number < extraFields; number++) {
                    const field = document.createElement("input");
                    field.type = "hidden";
                    field.name = `field${number}`;
                    form.append(field);
                }
                form.submit();
            }""",
            [action, token, extra_fields],
        )
    return navigation.value


@pytest.mark.parametrize(
    ("how", "status", "heading"),
    [
        ({"extra_fields": 1001}, 400, "The service could not accept what was sent"),
        ({"token": "x" * 64}, 403, "Your form could not be sent"),
        ({"action": "/"}, 405, "This page cannot receive a form"),
    ],
)
def test_error_pages_are_accessible(context, how, status, heading):
    page_watch = PageWatch()
    page = page_watch.attach(context.new_page())
    assert send_sign_in_form(page, **how).status == status
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_accessible(page)
    assert not page_watch.csp_violations and not page_watch.page_errors
