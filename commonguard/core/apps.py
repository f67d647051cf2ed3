from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "commonguard.core"
    label = "core"
