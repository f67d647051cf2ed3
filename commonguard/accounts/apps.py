from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "commonguard.accounts"
    label = "accounts"

    def ready(self) -> None:
        from commonguard.accounts import schema  # noqa: F401 - registers the OpenAPI auth schemes
