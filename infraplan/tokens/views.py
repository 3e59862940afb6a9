"""The tokens pages: a person's own tokens, making one (its secret shown once) and revoking one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from .forms import TokenForm
from .models import ApiToken
from .services import token_create, token_revoke

TOKENS_PER_PAGE = 50


@login_required
@require_safe
def token_list_view(request: HttpRequest) -> HttpResponse:
    """Your tokens, newest first, a page at a time: revoked and expired ones stay listed."""
    tokens = ApiToken.objects.filter(user=request.user)
    page = Paginator(tokens, TOKENS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "elided": page.paginator.get_elided_page_range(page.number, on_each_side=2),
        "now": timezone.now(),
    }
    return render(request, "tokens/token_list.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_create_view(request: HttpRequest) -> HttpResponse:
    """The form; on success, the one page that ever shows the token (never cached)."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=timezone.now() + form.expires_in(),
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return render(request, "tokens/token_created.html", {"token": token, "secret": secret})
    status = 400 if form.errors else 200
    return render(request, "tokens/token_create.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    """Confirm, then revoke. Another person's token is a 404, as if it did not exist."""
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    if request.method == "POST":
        if token.is_live:
            token_revoke(token=token, actor=request.user)
            messages.success(request, f"The token '{token.name}' has been revoked.")
        return redirect("token-list")
    return render(request, "tokens/token_revoke.html", {"token": token})
