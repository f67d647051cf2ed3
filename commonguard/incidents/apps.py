from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "commonguard.incidents"
    label = "incidents"
    verbose_name = "Incident reports"
