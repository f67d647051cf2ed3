from django.urls import path

from commonguard.mutualaid import views

app_name = "mutualaid"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("agreements/", views.agreement_list, name="agreements"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement"),
    path("responders/", views.responder_list, name="responders"),
    path("responders/<int:pk>/", views.responder_detail, name="responder"),
    path("teams/", views.team_list, name="teams"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment"),
]
