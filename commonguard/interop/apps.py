from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "commonguard.interop"
    label = "interop"
    verbose_name = "STIX / TAXII"
