"""The operator's pages under /hub/federation/: the peer hubs and their outboxes (read-only; ADR 30)."""

from django.urls import path

from commonguard.federation import pages

app_name = "fedops"
urlpatterns = [
    path("", pages.peer_list, name="peers"),
    path("<int:pk>/", pages.peer_detail, name="peer"),
]
