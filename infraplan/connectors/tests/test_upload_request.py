"""``upload_ingest_request``: a refused load of an uploaded file puts the file back where it was
kept, so the upload page offers it again (its loads are tested through the page, in
``catalogue/tests/test_upload_pages.py``)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from infraplan.catalogue.uploads import upload_keep, upload_kept_find
from infraplan.connectors.load_requests import upload_ingest_request
from infraplan.connectors.models import IngestRun
from infraplan.core.testing.data import dataset_make

pytestmark = pytest.mark.django_db

CSV = b"site_ref,Easting,Northing\nS1,615000,157500\n"


def test_a_refused_load_keeps_the_file_for_another_try(personas, settings, tmp_path):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    sites = dataset_make(slug="sites", owner=personas.organisation_a)
    user = personas.data_manager_a
    kept = upload_keep(SimpleUploadedFile("sites.csv", CSV), user_id=user.pk, dataset_id=sites.pk)

    with pytest.raises(ValidationError) as refused:
        upload_ingest_request(
            actor=user, dataset=sites, kept=kept, organisation=personas.organisation_b,
            layer="", reference="site_ref", rename={}, threshold=5.0, allow_large_removal=False,
        )  # fmt: skip

    assert list(refused.value.message_dict) == ["organisation"]
    assert not IngestRun.objects.exists()
    assert upload_kept_find(kept.signed, user_id=user.pk, dataset_id=sites.pk) == kept
    assert kept.path.read_bytes() == CSV
    assert not list((settings.UPLOAD_ROOT / "web").rglob("*.csv"))
