from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "commonguard.sharing"
    label = "sharing"
