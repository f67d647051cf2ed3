from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "commonguard.api"
    label = "api"
