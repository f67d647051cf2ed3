from django.apps import AppConfig


class PartnershipsConfig(AppConfig):
    name = "commonguard.partnerships"
    label = "partnerships"
    verbose_name = "Partnerships, library, events and grants"
