from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "infraplan.tokens"
    verbose_name = "API tokens"
