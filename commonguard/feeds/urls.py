from django.urls import path

from commonguard.feeds import apis, views

app_name = "feeds"
urlpatterns = [
    path("", views.feed_list, name="list"),
    path("<int:pk>/", views.feed_detail, name="detail"),
    path("<int:pk>/edit/", views.feed_edit, name="edit"),
    path("misp/upload/", views.misp_upload, name="misp-upload"),
    # The hub's MISP feed, for MISP instances (API token: HTTP Basic or Bearer).
    path("misp/manifest.json", apis.MispManifestView.as_view(), name="misp-manifest"),
    path("misp/hashes.csv", apis.MispHashesView.as_view(), name="misp-hashes"),
    path("misp/<str:uuid>.json", apis.MispEventView.as_view(), name="misp-event"),
]
