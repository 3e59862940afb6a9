"""The catalogue pages: the list of datasets, a dataset's page and its style editor."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from infraplan.audit.services import audit_record_read

from .access import Action
from .forms import DatasetFilterForm, StyleForm
from .models import AccessLevel, Dataset
from .selectors import (
    dataset_field_types,
    dataset_list,
    dataset_owner_choices,
    dataset_page,
    dataset_visible,
)
from .services import dataset_save


@require_GET
def dataset_list_view(request: HttpRequest) -> HttpResponse:
    form = DatasetFilterForm(request.GET, owners=dataset_owner_choices(request.user))
    filters = {name: form.value(name) for name in ("theme", "owner", "access")}
    datasets = list(
        dataset_list(
            request.user,
            themes=filters["theme"],
            owners=filters["owner"],
            access_levels=filters["access"],
            query=form.value("q"),
        )
    )
    return render(
        request,
        "catalogue/dataset_list.html",
        {
            "form": form,
            "datasets": datasets,
            "filtered": bool(form.value("q") or any(filters.values())),
        },
    )


def _visible_or_404(request: HttpRequest, slug: str, action: Action) -> Dataset:
    dataset = dataset_visible(request.user, slug, action)
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


@require_GET
def dataset_detail_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A dataset's metadata page. Unknown and not-permitted datasets are both 404s."""
    dataset = _visible_or_404(request, slug, Action.VIEW)
    page = dataset_page(request.user, dataset)
    if dataset.access_level != AccessLevel.PUBLIC:
        # The page shows example values and first rows: a read of restricted data.
        audit_record_read(actor=request.user, action="dataset.read.page", target=dataset)
    context = {
        "page": page,
        "dataset": dataset,
        "resource_url": request.build_absolute_uri(dataset_url(dataset)),
        "open_map_url": f"{reverse('map')}?layers={dataset.slug}",
        "contact_email": settings.AUTHORITY_PROFILE.authority.contact_email,
    }
    if page.can_manage:
        context["style_form"] = StyleForm(
            field_types={info.name: info.type for info in page.fields}, style=dataset.style
        )
    return render(request, "catalogue/dataset_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_style_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Edit how the map draws a dataset: for those who may manage it; 404 for anyone else."""
    dataset = _visible_or_404(request, slug, Action.MANAGE)
    field_types = dataset_field_types(dataset)
    form = StyleForm(
        request.POST if request.method == "POST" else None,
        field_types=field_types,
        style=dataset.style,
    )
    if request.method == "POST" and form.is_valid():
        dataset_save(actor=request.user, slug=dataset.slug, owner=dataset.owner, style=form.style)
        messages.success(request, f"The style of {dataset.title} has been saved.")
        return redirect(dataset_url(dataset))
    return render(request, "catalogue/dataset_style.html", {"dataset": dataset, "style_form": form})


def dataset_url(dataset: Dataset) -> str:
    return reverse("dataset-detail", kwargs={"slug": dataset.slug})
