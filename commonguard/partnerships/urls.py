from django.urls import path

from commonguard.partnerships import views

app_name = "partnerships"
urlpatterns = [
    path("library/", views.library_list, name="library"),
    path("library/new/", views.library_new, name="resource-new"),
    path("library/<int:pk>/", views.library_detail, name="resource"),
    path("library/<int:pk>/download/", views.library_download, name="resource-download"),
    path("library/<int:pk>/edit/", views.library_edit, name="resource-edit"),
    path("initiatives/", views.initiative_list, name="initiatives"),
    path("initiatives/new/", views.initiative_new, name="initiative-new"),
    path("initiatives/<int:pk>/", views.initiative_detail, name="initiative"),
    path("engagements/", views.engagement_list, name="engagements"),
    path("engagements/<int:pk>/follow-up-done/", views.engagement_follow_up_done, name="follow-up-done"),
    path("events/", views.event_list, name="events"),
    path("events/new/", views.event_new, name="event-new"),
    path("events/<int:pk>/", views.event_detail, name="event"),
    path("events/<int:pk>/edit/", views.event_edit, name="event-edit"),
    path("calendar/", views.calendar_settings, name="calendar"),
    # The token is the credential: calendar programs cannot sign in (tested in test_partnerships_events.py).
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar-feed"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/<int:pk>/", views.grant_detail, name="grant"),
    path("grants/<int:pk>/awards/<int:award_pk>/edit/", views.grant_award_edit, name="sub-award-edit"),
    path("volunteers/", views.volunteers, name="volunteers"),
]
