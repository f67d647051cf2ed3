from django.apps import AppConfig


class PartnershipsConfig(AppConfig):
    name = "commonguard.partnerships"
    label = "partnerships"
    verbose_name = "Partnerships, library, events and grants"

    def ready(self) -> None:
        # What this app gives the measurement dashboard and briefing (measurement/hooks.py).
        from commonguard.partnerships.measurement import register

        register()
