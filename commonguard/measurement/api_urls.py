"""Mounted at /api/v1/measurement/ by commonguard/api/urls.py (one line there)."""

from django.urls import path

from commonguard.measurement import apis

urlpatterns = [
    path("dashboard/", apis.dashboard, name="measurement-dashboard"),
    path("survey/results/", apis.survey_results, name="measurement-survey-results"),
    path("survey/answers/", apis.survey_answer, name="measurement-survey-answer"),
    path("assessments/", apis.assessments, name="measurement-assessments"),
    path("assessments/<int:pk>/results/", apis.assessment_results, name="measurement-assessment-results"),
    path("assessments/<int:pk>/scores/", apis.assessment_scores, name="measurement-assessment-scores"),
]
