from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from infraplan.core import views as core_views

# The admin's own sign-in form would bypass lockout and two-factor: send it to the service's.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("branding.css", core_views.branding_css, name="branding-css"),
    path("accessibility/", core_views.accessibility, name="accessibility"),
    path("privacy/", core_views.privacy, name="privacy"),
    path("cookies/", core_views.cookies, name="cookies"),
    path("accounts/tokens/", include("infraplan.tokens.urls")),
    path("audit/", include("infraplan.audit.urls")),
    path("accounts/", include("infraplan.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("infraplan.maps.urls")),
    path("", include("infraplan.connectors.urls")),  # before datasets/<slug>/
    path("", include("infraplan.exports.urls")),
    path("ogcapi/", include("infraplan.api.urls")),
    path("", include("infraplan.catalogue.urls")),
    path("", include("infraplan.places.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "Platform administration"
admin.site.site_title = "Platform administration"

handler500 = "infraplan.core.views.server_error"
