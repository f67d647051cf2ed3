"""TAXII 2.1, mounted at /taxii2/ (discovery MUST sit at the server root, §8.2.1)."""

from django.urls import path, re_path

from commonguard.interop import taxii

app_name = "taxii"

_COLLECTION = "api/collections/<uuid:collection_id>/"
_OBJECT = _COLLECTION + "objects/<str:object_id>/"

urlpatterns = [
    path("", taxii.discovery, name="discovery"),
    path("api/", taxii.api_root, name="api-root"),
    path("api/status/<uuid:status_id>/", taxii.status, name="status"),
    path("api/collections/", taxii.collections, name="collections"),
    path(_COLLECTION, taxii.collection, name="collection"),
    path(_COLLECTION + "manifest/", taxii.manifest, name="manifest"),
    path(_COLLECTION + "objects/", taxii.objects, name="objects"),
    path(_OBJECT, taxii.object_detail, name="object"),
    path(_OBJECT + "versions/", taxii.versions, name="versions"),
    # Anything else under /taxii2/ is a TAXII 404, never an HTML page.
    re_path(r"^.*$", taxii.not_found, name="not-found"),
]
