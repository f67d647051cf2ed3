from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "commonguard.federation"
    label = "federation"
    verbose_name = "Federation between hubs"
