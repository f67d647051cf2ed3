from django.contrib import admin
from django.urls import include, path

from commonguard.web import views as web_views

admin.site.site_header = "CommonGuard administration"
admin.site.site_title = "CommonGuard"

urlpatterns = [
    path("", include("commonguard.web.urls")),
    path("accounts/", include("commonguard.accounts.urls")),
    path("organizations/", include("commonguard.orgs.urls")),
    path("alerts/", include("commonguard.sharing.urls")),
    path("lookup/", include("commonguard.sharing.lookup_urls")),
    path("feeds/", include("commonguard.feeds.urls")),
    path("incidents/", include("commonguard.incidents.urls")),
    path("partnerships/", include("commonguard.partnerships.urls")),
    path("mutualaid/", include("commonguard.mutualaid.urls")),
    path("audit/", include("commonguard.core.urls")),
    path("statutes/", include("commonguard.statutes.urls")),
    path("measurement/", include("commonguard.measurement.urls")),
    path("api/", include("commonguard.api.urls")),
    path("taxii2/", include("commonguard.interop.urls")),
    path("federation/", include("commonguard.federation.urls")),
    path("hub/federation/", include("commonguard.federation.web_urls")),
    path("stix/", include("commonguard.interop.web_urls")),
    path("admin/", admin.site.urls),
    path("healthz", web_views.healthz, name="healthz"),
]
