from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "commonguard.incidents"
    label = "incidents"
    verbose_name = "Incident reports"

    def ready(self) -> None:
        # What this app gives the measurement dashboard and briefing (measurement/hooks.py).
        from commonguard.incidents.measurement import register

        register()
