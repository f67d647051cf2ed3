from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "commonguard.accounts"
    label = "accounts"
