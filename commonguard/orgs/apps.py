from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "commonguard.orgs"
    label = "orgs"
