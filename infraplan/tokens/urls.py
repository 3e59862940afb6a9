from django.urls import path

from . import views

urlpatterns = [
    path("", views.token_list_view, name="token-list"),
    path("new/", views.token_create_view, name="token-create"),
    path("<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
]
