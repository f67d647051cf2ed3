from django.urls import path

from commonguard.sharing import campaign_views, channel_views, live, recipient_views, views

app_name = "sharing"
urlpatterns = [
    path("", views.alert_list, name="feed"),
    path("new/", views.alert_create, name="new"),
    path("preview/", views.alert_preview, name="preview"),
    path("organizations/", views.organization_choices, name="org-choices"),
    path("live/", live.live_stream, name="live"),
    path("preferences/", channel_views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", channel_views.unsubscribe_view, name="unsubscribe"),
    path("webhooks/<int:org_id>/", channel_views.webhook_list, name="webhooks"),
    path("webhooks/<int:org_id>/<int:pk>/", channel_views.webhook_detail, name="webhook"),
    path(
        "webhooks/<int:org_id>/<int:pk>/<str:action>/",
        channel_views.webhook_action,
        name="webhook-action",
    ),
    path("<uuid:uuid>/", views.alert_detail, name="alert"),
    path("<uuid:uuid>/edit/", views.alert_edit, name="edit"),
    path("<uuid:uuid>/publish/", views.alert_publish, name="publish"),
    path("<uuid:uuid>/revoke/", views.alert_revoke, name="revoke"),
    path("<uuid:uuid>/delete/", views.alert_delete, name="delete"),
    path("<uuid:uuid>/receipts/", views.alert_receipts, name="receipts"),
    path("<uuid:uuid>/acknowledge/", views.alert_acknowledge_view, name="acknowledge"),
    path("<uuid:uuid>/sightings/", views.alert_sighting_view, name="sighting"),
    path("<uuid:uuid>/map/", campaign_views.alert_map, name="map"),
    path("<uuid:uuid>/map/data.json", campaign_views.alert_map_data, name="map-data"),
    path("map/", campaign_views.statewide_map, name="statewide-map"),
    path("map/data.json", campaign_views.statewide_map_data, name="statewide-map-data"),
    path("<uuid:uuid>/questions/", recipient_views.question_ask_view, name="question-ask"),
    path("<uuid:uuid>/questions/<int:pk>/replies/", recipient_views.question_reply_view, name="question-reply"),
    path("<uuid:uuid>/forward/", recipient_views.alert_forward_view, name="forward"),
    path("<uuid:uuid>/history/", recipient_views.alert_history, name="history"),
]
