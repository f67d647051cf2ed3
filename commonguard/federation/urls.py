from django.urls import path

from commonguard.federation import views

app_name = "federation"

urlpatterns = [
    path("v1/changes/", views.changes, name="changes"),
    path("v1/inbox/", views.inbox, name="inbox"),
]
