from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "infraplan.accounts"
    verbose_name = "People and organisations"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed

        from .receivers import registration_start_on_email_confirmed

        email_confirmed.connect(registration_start_on_email_confirmed)
