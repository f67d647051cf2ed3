from django.apps import AppConfig


class StatutesConfig(AppConfig):
    name = "commonguard.statutes"
    label = "statutes"
    verbose_name = "Statutory reporting clocks"

    def ready(self) -> None:
        # The incident report announces submission and updates; the clocks follow (receivers.py).
        from commonguard.statutes import receivers  # noqa: F401
