from django.urls import path

from . import views

urlpatterns = [
    path("registration/waiting/", views.registration_waiting_view, name="registration-waiting"),
    path("approvals/", views.registration_list_view, name="registration-list"),
    path("approvals/<int:pk>/", views.registration_decide_view, name="registration-decide"),
    path("members/", views.member_list_view, name="member-list"),
    path("members/<int:pk>/", views.member_role_view, name="member-role"),
    path("members/<int:pk>/remove/", views.member_remove_view, name="member-remove"),
    path("profile/", views.account_profile_view, name="account-profile"),
    path(
        "organisations/<slug:slug>/leave/",
        views.membership_leave_view,
        name="membership-leave",
    ),
    path("delete/", views.account_delete_view, name="account-delete"),
]
