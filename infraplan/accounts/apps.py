from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "infraplan.accounts"
    verbose_name = "People and organisations"
