from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "infraplan.insights"
    verbose_name = "Insight and usage"
