from django.urls import path

from commonguard.measurement import briefing_views, views

app_name = "measurement"
urlpatterns = [
    path("", views.home, name="home"),
    path("assessments/<int:org_id>/<int:year>/", views.assessment_edit, name="assessment-edit"),
    path("assessments/<int:org_id>/<int:year>/results/", views.assessment_results, name="assessment-results"),
    path("assessments/<int:org_id>/<int:year>/results.csv", views.assessment_results_csv, name="assessment-csv"),
    path("survey/<int:org_id>/", views.survey_answer, name="survey-answer"),
    path("survey/results/", views.survey_results, name="survey-results"),
    path("survey/results.csv", views.survey_results_csv, name="survey-csv"),
    path("survey/answers/", views.survey_answers, name="survey-answers"),
    path("survey/answer/<str:token>/", views.survey_link, name="survey-link"),
    path("survey/manage/", views.survey_manage, name="survey-manage"),
    path("survey/manage/<int:year>/", views.survey_manage_year, name="survey-manage-year"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/data.json", views.dashboard_data, name="dashboard-data"),
    path("dashboard/counties.csv", views.dashboard_csv, name="dashboard-csv"),
    path("dashboard/trends.csv", views.dashboard_trends_csv, name="dashboard-trends-csv"),
    path("briefings/", briefing_views.briefings, name="briefings"),
    path("briefings/<int:org_id>/<int:year>-q<int:quarter>.pdf", briefing_views.org_briefing, name="briefing-org"),
    path("briefings/state/<int:year>-q<int:quarter>.pdf", briefing_views.state_briefing, name="briefing-state"),
]
