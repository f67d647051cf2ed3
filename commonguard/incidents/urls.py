from django.urls import path

from commonguard.incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_new, name="new"),
    path("triage/", views.triage_console, name="triage"),
    path("<uuid:uuid>/", views.report_detail, name="detail"),
    path("<uuid:uuid>/step/<int:step>/", views.report_step, name="step"),
    path("<uuid:uuid>/step/<int:step>/autosave/", views.report_autosave, name="autosave"),
    path("<uuid:uuid>/update/", views.report_update_view, name="update"),
    path("<uuid:uuid>/classify/", views.report_classify_view, name="classify"),
    path("<uuid:uuid>/attachments/", views.attachment_upload, name="attach"),
    path("<uuid:uuid>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("<uuid:uuid>/export/veris.json", views.export_veris, name="export-veris"),
    path("<uuid:uuid>/export/cisa.json", views.export_cisa, name="export-cisa"),
    path("<uuid:uuid>/export/summary.pdf", views.export_pdf, name="export-pdf"),
    path("<uuid:uuid>/tasks/", views.task_create_view, name="task-new"),
    path("<uuid:uuid>/tasks/<int:pk>/close/", views.task_close_view, name="task-close"),
    path("<uuid:uuid>/notes/", views.note_add_view, name="note-new"),
    path("<uuid:uuid>/triage/", views.triage_view, name="triage-set"),
    path("<uuid:uuid>/warn-peers/", views.warn_peers_view, name="warn-peers"),
]
