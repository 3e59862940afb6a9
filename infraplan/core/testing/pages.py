"""Reading server-rendered pages in tests."""

import html
import re


def error_summary(response) -> list[str]:
    """The links of a page's GOV.UK error summary, as read ("Field: message")."""
    content = response.content.decode()
    if "There is a problem" not in content:
        raise AssertionError("The page has no error summary.")
    summary = content[content.index("govuk-error-summary__list") :].split("</ul>")[0]
    return [html.unescape(item) for item in re.findall(r'<a href="#[^"]+">([^<]+)</a>', summary)]
