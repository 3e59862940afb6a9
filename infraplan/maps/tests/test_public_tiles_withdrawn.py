"""A withdrawn dataset's public tiles stop at once, ahead of Django too (maps/public_tiles.py):
the withdrawal updates the dataset's row, whose trigger tells every web process to forget the
layers it kept (migration catalogue 0008); a restore brings them back the same way.

Transactional, as test_public_tiles.py is, so that the notifications really reach the listener.
"""

import pytest

from infraplan.catalogue.services import dataset_restore, dataset_withdraw

from .test_public_tiles import app, eventually, sites, tile_url, to_django, wsgi_get  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_withdrawn_layer_is_no_longer_served_once_postgresql_says_so(app, sites, personas):  # noqa: F811
    served = app()
    url = tile_url("public-sites")
    before, went = to_django(served, lambda: wsgi_get(served, url))
    assert before.status == 200 and not went  # answered ahead of Django

    dataset_withdraw(actor=personas.admin_a, dataset=sites, reason="Published in error")

    assert eventually(lambda: wsgi_get(served, url).status == 404)
    after, went = to_django(served, lambda: wsgi_get(served, url))
    assert after.status == 404 and went and b"<html" in after.body  # Django's own 404 page

    dataset_restore(actor=personas.admin_a, dataset=sites)

    def served_here_again() -> bool:
        answer, went = to_django(served, lambda: wsgi_get(served, url))
        return answer.status == 200 and not went and answer.body == before.body

    assert eventually(served_here_again)
