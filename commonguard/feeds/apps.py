from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "commonguard.feeds"
    label = "feeds"
    verbose_name = "Feeds and MISP"
