from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "commonguard.web"
    label = "web"
