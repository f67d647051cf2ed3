"""Pages under /stix/: STIX bundle imports and the intelligence search."""

from django.urls import path

from commonguard.interop import views

app_name = "stix"
urlpatterns = [
    path("imports/", views.import_list, name="imports"),
    path("imports/<uuid:job_uuid>/", views.import_detail, name="import"),
    path("intelligence/", views.intelligence, name="intelligence"),
]
