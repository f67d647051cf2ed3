from django.urls import path

from commonguard.statutes import views

app_name = "statutes"

urlpatterns = [
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule-new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule"),
    path("reports/<uuid:uuid>/", views.report_obligation_list, name="report"),
    path("obligations/<int:pk>/", views.obligation_detail, name="obligation"),
    path("obligations/<int:pk>/email/", views.obligation_email, name="obligation-email"),
    path("obligations/<int:pk>/close/", views.obligation_close_view, name="obligation-close"),
    path("guardrails/<int:pk>/document/", views.guardrail_document, name="guardrail-document"),
    path("overdue/", views.overdue_list, name="overdue"),
    path("health/<str:state>/", views.health, name="health"),
]
