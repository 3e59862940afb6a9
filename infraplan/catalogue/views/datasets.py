"""Reading the catalogue: the list of datasets, a dataset's page and its metadata record
(both as of a date, too)."""

from datetime import date

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.timezone import localdate
from django.views.decorators.http import require_safe

from infraplan.accounts.two_factor import two_factor_cleared, two_factor_url
from infraplan.audit.services import audit_record_read
from infraplan.exports.forms import download_offer
from infraplan.maps.selectors import boundary_layers
from infraplan.maps.viewport import FALLBACK_SIZE, usable_bbox, view_fitting

from ..access import Action, dataset_permits
from ..caching import dataset_cache_headers
from ..dataset_page import SAMPLE_SIZE, DatasetPage, dataset_page
from ..forms import AsOfForm, DatasetFilterForm, DiffChoiceForm, StyleForm
from ..gemini import MEDIA_TYPE, dataset_record
from ..history import first_published_at, version_as_of
from ..models import Dataset, DatasetVersion
from ..selectors import (
    dataset_data_age,
    dataset_downloads_offered,
    dataset_list,
    dataset_national_off,
    dataset_owner_choices,
    dataset_owners_for_new,
    dataset_runs_active,
    dataset_sources,
    parts_managed,
    published_version_numbers,
    sources_failing,
)
from ..store import StoreFeatureSource
from .lookups import dataset_or_404, dataset_url


@require_safe
def dataset_list_view(request: HttpRequest) -> HttpResponse:
    form = DatasetFilterForm(request.GET, owners=dataset_owner_choices(request.user))
    filters = {name: form.value(name) for name in ("theme", "owner", "access")}
    # A search that cannot be run as asked lists nothing: left out, its words or filters would
    # list every dataset as if it had found them.
    datasets: list[Dataset] = []
    if form.is_valid():
        datasets = list(
            dataset_list(
                request.user,
                themes=filters["theme"],
                owners=filters["owner"],
                access_levels=filters["access"],
                query=form.value("q"),
            )
        )
    today = localdate()
    return render(
        request,
        "catalogue/dataset_list.html",
        {
            "form": form,
            # Each with how old its data are, which its card says beside when they were loaded.
            "datasets": [
                (dataset, dataset_data_age(dataset, today=today, fetched=dataset.fetched_at))
                for dataset in datasets
            ],
            "filtered": bool(form.value("q") or any(filters.values()) or form.errors),
            "can_add": bool(dataset_owners_for_new(request.user)),
        },
    )


def _dataset_as_of(
    request: HttpRequest, dataset: Dataset
) -> tuple[AsOfForm, date | None, DatasetVersion | None]:
    """``?as_of=YYYY-MM-DD`` as the dataset's page and its metadata record read it: the form
    (with an error for a date that cannot be shown), the date, and the version current then."""
    form = AsOfForm(request.GET if "as_of" in request.GET else None)
    day = form.cleaned_data["as_of"] if form.is_valid() else None
    version = None
    if day is not None:
        if dataset.source_key != StoreFeatureSource.key:
            form.add_error("as_of", "This dataset's history is not kept on the platform")
        else:
            version = version_as_of(dataset, day)
            if version is None:
                form.add_error("as_of", _nothing_published_yet(dataset, day))
    return form, day, version


def _nothing_published_yet(dataset: Dataset, day: date) -> str:
    """Why ``as_of`` shows nothing: before the dataset's first publish, which it names."""
    said = f"Nothing had been published on {day:%-d %B %Y} yet"
    first = first_published_at(dataset)
    if first is None:
        return said
    return f"{said}: its first version was published on {localdate(first):%-d %B %Y}"


@require_safe
def dataset_detail_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A dataset's metadata page. Unknown and not-permitted datasets are both 404s.

    ``?as_of=YYYY-MM-DD`` shows the features as published on that date (the feature store's
    datasets only: others have no versions on the platform).
    """
    dataset = dataset_or_404(request, slug, Action.VIEW)
    as_of_form, as_of_date, as_of_version = _dataset_as_of(request, dataset)
    page = dataset_page(
        request.user, dataset, as_of=as_of_version, on=as_of_date if as_of_version else None,
        versions_page=request.GET.get("page"),
    )  # fmt: skip
    if not dataset.is_public:
        # The page shows example values and first rows: a read of restricted data.
        audit_record_read(actor=request.user, action="dataset.read.page", target=dataset)
    numbers = published_version_numbers(dataset)
    can_contribute = page.can_contribute
    sources = dataset_sources(dataset)
    administers = page.can_manage and dataset_permits(request.user, dataset, Action.ADMINISTER)
    context = {
        "page": page,
        "dataset": dataset,
        # Withdrawing and restoring: for its owner's admins and platform admins, after a
        # second factor (the link to present or set one up otherwise).
        "can_administer": administers,
        "two_factor_url": (
            two_factor_url(request) if administers and not two_factor_cleared(request) else ""
        ),
        "as_of_form": as_of_form,
        "as_of_date": as_of_date if as_of_version else None,
        "as_of_version": as_of_version,
        "versions_elided": page.versions.paginator.get_elided_page_range(page.versions.number),
        # The versions' page links keep the date the page is showing.
        "versions_query": urlencode({"as_of": request.GET["as_of"]}) if as_of_version else "",
        "diff_form": DiffChoiceForm(numbers=numbers) if len(numbers) >= 2 else None,
        "can_contribute": can_contribute,
        # The organisations whose sources the user manages (None: every one).
        "parts_managed": (
            None
            if page.can_manage
            else parts_managed(request.user, dataset)
            if can_contribute
            else set()
        ),
        "sources": sources,
        # Said at the top of the page to those who load into the dataset.
        "sources_failing": sources_failing(sources) if can_contribute else [],
        "ever_published": bool(numbers),
        # The versions table says whose features each version replaced.
        "several_parts": dataset.contributing_organisations.exists(),
        # Example values are read from this many features: a field they leave empty is said
        # to be empty in them, not in the dataset.
        "sample_size": SAMPLE_SIZE,
        "national_off": dataset_national_off(dataset, sources),
        "runs_active": dataset_runs_active(dataset) if can_contribute else [],
        # The metadata's identifier: the same however the service was reached (SITE_URL, not
        # the request's Host).
        "resource_url": settings.SITE_URL.rstrip("/") + dataset_url(dataset),
        "open_map_url": _map_url(dataset, page, as_of_date if as_of_version else None),
        "contact_email": settings.AUTHORITY_PROFILE.authority.contact_email,
    }
    if dataset_downloads_offered(dataset, as_of=as_of_version):
        context["download"] = download_offer(
            dataset, as_of=context["as_of_date"], user=request.user
        )
    if page.can_manage and page.is_spatial:  # a list without geometry is not on the map
        context["style_form"] = StyleForm(
            field_types={info.name: info.type for info in page.fields}, style=dataset.style
        )
    return render(request, "catalogue/dataset_detail.html", context)


# The closest the dataset page's map link zooms to fit a small dataset (a few points).
MAP_LINK_MAX_ZOOM = 16


def _map_url(dataset: Dataset, page: DatasetPage, as_of: date | None) -> str:
    """The map showing the dataset over the boundaries it opens with: on its extent (that of
    its features placed in a district, where there are any), at a zoom the map draws it at (its
    minimum zoom, if fitting the extent would need a wider view: the middle of the extent
    then)."""
    query = {"layers": ",".join(dict.fromkeys([*boundary_layers(), dataset.slug]))}
    if page.map_extent_wgs84 is not None:
        extent = page.map_extent_wgs84
        box = usable_bbox((extent.min_x, extent.min_y, extent.max_x, extent.max_y))
        (lon, lat), zoom = view_fitting(box, *FALLBACK_SIZE)
        zoom = max(min(zoom, MAP_LINK_MAX_ZOOM), dataset.min_zoom)
        query |= {"center": f"{lon:.5f},{lat:.5f}", "zoom": f"{zoom:.2f}"}
    if as_of is not None:
        query["as_of"] = f"{as_of:%Y-%m-%d}"
    return f"{reverse('map')}?{urlencode(query)}"


# The dataset's metadata as a UK GEMINI 2.3 record


@require_safe
def dataset_metadata_xml_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The dataset page's metadata as a UK GEMINI 2.3 XML record (``catalogue.gemini``), for a
    catalogue or data.gov.uk: the page's gate, values and ``?as_of=YYYY-MM-DD``. A date the page
    would not show is refused in plain text: 400, or 404 before anything had been published."""
    dataset = dataset_or_404(request, slug, Action.VIEW)
    as_of_form, as_of_date, as_of_version = _dataset_as_of(request, dataset)
    if as_of_form.errors:
        # A real date before the first publish is nothing there (404); anything else, a 400.
        unpublished = as_of_date is not None and dataset.source_key == StoreFeatureSource.key
        return _metadata_refusal(" ".join(as_of_form.errors["as_of"]), 404 if unpublished else 400)
    page = dataset_page(request.user, dataset, as_of=as_of_version, on=as_of_date)
    # The downloads the dataset's page offers.
    offered = dataset_downloads_offered(dataset, as_of=as_of_version)
    download = download_offer(dataset, as_of=as_of_date) if offered else None
    response = HttpResponse(
        dataset_record(dataset=dataset, page=page, download=download), content_type=MEDIA_TYPE
    )
    suffix = f"-{as_of_date:%Y-%m-%d}" if as_of_date else ""
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}{suffix}-gemini.xml"'
    return dataset_cache_headers(response, [dataset])


def _metadata_refusal(message: str, status: int) -> HttpResponse:
    response = HttpResponse(
        f"Cannot make this metadata record: {message}.",
        status=status,
        content_type="text/plain; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"  # it may say when a restricted dataset was published
    return response
