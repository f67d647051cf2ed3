from django.urls import path

from commonguard.mutualaid import views, views_claims, views_manage, views_offers

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
    # The end of the chain and the coordinator's tools (ADR 33).
    path("dashboard/", views_claims.dashboard, name="dashboard"),
    path("deployments/<int:pk>/logs/", views_claims.deployment_logs, name="deployment-logs"),
    path("deployments/<int:pk>/release/", views_claims.deployment_release, name="deployment-release"),
    path("deployments/<int:pk>/claim/", views_claims.claim_detail, name="claim"),
    path("deployments/<int:pk>/claim.pdf", views_claims.claim_pdf, name="claim-pdf"),
    path("deployments/<int:pk>/claim.csv", views_claims.claim_csv, name="claim-csv"),
    path("expenses/<int:pk>/receipt/", views_claims.receipt_download, name="receipt"),
    path("requests/<int:pk>/after-action/", views_claims.aar_new, name="aar-new"),
    path("after-action/<int:pk>/", views_claims.aar_detail, name="aar"),
    path("agreements/new/", views_manage.agreement_new, name="agreement-new"),
    path("agreements/<int:pk>/edit/", views_manage.agreement_edit, name="agreement-edit"),
    path("responders/new/", views_manage.responder_new, name="responder-new"),
    path("teams/new/", views_manage.team_new, name="team-new"),
    path("teams/<int:pk>/", views_manage.team_detail, name="team"),
]
