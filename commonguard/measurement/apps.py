from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "commonguard.measurement"
    label = "measurement"
    verbose_name = "Measurement"
