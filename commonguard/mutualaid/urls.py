from django.urls import path

from commonguard.mutualaid import views, views_offers

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
    # Offers, binding agreements, mission orders, accept/decline links (ADR 32)
    path("requests/<int:pk>/offer/", views_offers.offer_new, name="offer-new"),
    path("offers/<int:pk>/", views_offers.offer_detail, name="offer"),
    path("binding/<int:pk>/", views_offers.binding_detail, name="binding"),
    path("mission-orders/<int:pk>/", views_offers.mission_order_detail, name="mission-order"),
    path("respond/<str:token>/", views_offers.respond, name="respond"),
]
