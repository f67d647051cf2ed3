from django.apps import AppConfig


class MutualAidConfig(AppConfig):
    name = "commonguard.mutualaid"
    label = "mutualaid"
    verbose_name = "Cyber mutual aid"
