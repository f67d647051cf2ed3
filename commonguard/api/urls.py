"""The REST API, version 1. Each app's apis.py is mounted here."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from commonguard.accounts import apis as accounts_apis
from commonguard.core import apis as core_apis
from commonguard.feeds import apis as feeds_apis
from commonguard.incidents import apis as incidents_apis
from commonguard.interop import apis as interop_apis
from commonguard.measurement.api_urls import urlpatterns as measurement_urls
from commonguard.mutualaid import apis as mutualaid_apis
from commonguard.orgs import apis as orgs_apis
from commonguard.partnerships import apis as partnerships_apis
from commonguard.sharing import apis as sharing_apis
from commonguard.sharing import channel_apis, lookup_apis, recipient_apis
from commonguard.statutes import apis as statutes_apis

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("organizations", orgs_apis.OrganizationViewSet, basename="organization")
router.register("contacts", orgs_apis.ContactViewSet, basename="contact")
router.register("memberships", accounts_apis.MembershipViewSet, basename="membership")
router.register("tokens", accounts_apis.ApiTokenViewSet, basename="token")
router.register("audit", core_apis.AuditEventViewSet, basename="audit")
router.register("alerts", sharing_apis.AlertViewSet, basename="alert")
router.register(r"alerts/(?P<alert_uuid>[^/.]+)/questions", recipient_apis.QuestionViewSet, basename="alert-question")
router.register(r"alerts/(?P<alert_uuid>[^/.]+)/versions", recipient_apis.VersionViewSet, basename="alert-version")
router.register(r"alerts/(?P<alert_uuid>[^/.]+)/forward", recipient_apis.ForwardViewSet, basename="alert-forward")
router.register("indicators", sharing_apis.IndicatorViewSet, basename="indicator")
router.register("sharing-groups", sharing_apis.SharingGroupViewSet, basename="sharing-group")
router.register("webhooks", channel_apis.WebhookViewSet, basename="webhook")
router.register("feeds", feeds_apis.FeedViewSet, basename="feed")
router.register("incident-reports", incidents_apis.IncidentReportViewSet, basename="incident-report")
router.register(
    r"incident-reports/(?P<report_uuid>[^/.]+)/obligations",
    statutes_apis.ReportObligationViewSet,
    basename="report-obligation",
)
router.register("reporting-rules", statutes_apis.ReportingRuleViewSet, basename="reporting-rule")
router.register("library", partnerships_apis.ResourceViewSet, basename="library-resource")
router.register("grant-programs", partnerships_apis.GrantProgramViewSet, basename="grant-program")
router.register("mutualaid/responders", mutualaid_apis.ResponderViewSet, basename="mutualaid-responder")
router.register("mutualaid/agreements", mutualaid_apis.AgreementViewSet, basename="mutualaid-agreement")
router.register("mutualaid/requests", mutualaid_apis.AssistanceRequestViewSet, basename="mutualaid-request")

app_name = "api"
urlpatterns = [
    path("v1/alerts/<uuid:alert_uuid>/stix/", interop_apis.alert_stix, name="alert-stix"),
    path("v1/", include(router.urls)),
    path("v1/roles/", accounts_apis.roles, name="roles"),
    path("v1/me/", accounts_apis.me, name="me"),
    path("v1/me/alert-preferences/", channel_apis.alert_preferences, name="alert-preferences"),
    path("v1/lookup/", lookup_apis.LookupView.as_view(), name="lookup"),
    path("v1/misp/events/", feeds_apis.MispEventUploadView.as_view(), name="misp-events"),
    path("v1/stix/", include(interop_apis.urls)),
    path("v1/measurement/", include(measurement_urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets style attributes from its script; this page alone allows inline styles
    # (never inline script).
    path(
        "docs/",
        csp_update({"style-src": [SELF, UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
]
