"""Times on the pages say whether they are GMT or BST, in the hour that comes twice too."""

from datetime import UTC, datetime

from django.template import Context, Template

TEMPLATE = Template('{% load local_time %}{{ when|local_time }}|{{ when|local_time:"H:i" }}')


def shown(when: datetime | None) -> str:
    return TEMPLATE.render(Context({"when": when}))


def test_times_are_london_time_with_the_zone_that_applies():
    assert shown(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == "29 March 2026 00:59 GMT|00:59 GMT"
    assert shown(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == "29 March 2026 02:00 BST|02:00 BST"
    assert shown(None) == "|"


def test_the_hour_that_comes_twice_is_told_apart():
    # 00:30 and 01:30 UTC on the last Sunday of October are both 01:30 in London.
    assert shown(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "25 October 2026 01:30 BST|01:30 BST"
    assert shown(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "25 October 2026 01:30 GMT|01:30 GMT"
