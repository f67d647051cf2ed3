"""TAXII 2.1 server (OASIS Standard, 10 June 2021): discovery, API root, status, collections,
collection, manifest, objects (GET, POST), object (GET, DELETE), versions.

Plain Django views, not DRF: the hot path (GET objects, limit=1000) splices the stored JSON text of
each object into the envelope instead of parsing and re-serialising it, and reads a page with one
keyset query (docs/adr/0020-stix-storage-and-taxii-paging.md). Every collection and object is read
through `Collection.objects.visible_to` / `StixObject.objects.readable_in`: what the caller may not
see answers exactly like what does not exist (404, same body).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import BinaryField, CharField, Q, Subquery
from django.db.models.expressions import OuterRef
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from psycopg.adapt import Buffer, Loader
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from commonguard.accounts.authentication import BasicTokenAuthentication, BearerTokenAuthentication
from commonguard.accounts.viewer import viewer_for
from commonguard.interop import services
from commonguard.interop.models import Collection, StixObject, TaxiiStatus
from commonguard.interop.querysets import writable_by
from commonguard.interop.stix import BundleError, StixInputError, bundle_load, parse_timestamp, taxii_timestamp

log = logging.getLogger(__name__)
TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
API_ROOT_PATH = "/taxii2/api/"
_NEXT_SALT = "commonguard.interop.taxii.next"

ENVELOPE_PLEASE = 'Send a TAXII envelope {"objects": [...]} (or a STIX bundle), not a single object.'


def max_content_length() -> int:
    return int(getattr(settings, "COMMONGUARD_TAXII_MAX_CONTENT_LENGTH", 10 * 1024 * 1024))


def max_page_size() -> int:
    return int(getattr(settings, "COMMONGUARD_TAXII_MAX_PAGE", 1000))


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.description = status, title, description


NOT_FOUND = "The requested resource does not exist."


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    text = body if isinstance(body, str | bytes) else json.dumps(body, separators=(",", ":"))
    response = HttpResponse(text, status=status, content_type=TAXII_MEDIA)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(status: int, title: str, description: str = "") -> HttpResponse:
    """A TAXII error resource (§3.6.1), with the TAXII media type, whatever went wrong."""
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    response = _json(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="taxii", Bearer realm="taxii"'
    return response


# --- request handling ----------------------------------------------------------------------


def _media_ok(accept: str, allow_stix: bool) -> bool:
    """Accept holds a TAXII 2.1 media range (a missing version means the latest, §1.6.8.2), or a
    STIX 2.1 one where objects are served."""
    for item in accept.split(","):
        parts = [p.strip().lower() for p in item.split(";")]
        media, params = parts[0], {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in parts[1:])}
        allowed = media == "application/taxii+json" or (allow_stix and media == "application/stix+json")
        if allowed and params.get("version", "2.1") == "2.1":
            return True
    return False


def _authenticate(request: HttpRequest) -> Any:
    """API tokens, exactly as the REST API takes them (`accounts/authentication.py`): Bearer, or
    HTTP Basic with the token as the password; failures become TAXII error resources."""
    drf_request = cast(Request, request)  # the schemes read only the Authorization header
    for scheme in (BearerTokenAuthentication(), BasicTokenAuthentication()):
        try:
            found = scheme.authenticate(drf_request)
        except AuthenticationFailed as exc:
            raise TaxiiError(401, str(exc.detail)) from None
        if found is not None:
            return found[0]
    raise TaxiiError(401, "Authentication required.", "Send an API token: HTTP Basic (as password) or Bearer.")


def taxii_view(*methods: str, stix: bool = False) -> Callable[[Callable[..., HttpResponse]], Callable[..., Any]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., Any]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                user = _authenticate(request)
                if request.method not in methods:
                    raise TaxiiError(405, f"{request.method} is not allowed here.")
                if not viewer_for(user).is_vetted:
                    raise TaxiiError(403, "Only vetted members of the hub can use TAXII.")
                if not _media_ok(request.META.get("HTTP_ACCEPT", ""), allow_stix=stix):
                    raise TaxiiError(406, "Not acceptable.", f"Send Accept: {TAXII_MEDIA}.")
                return view(request, user, *args, **kwargs)
            except TaxiiError as exc:
                return error_response(exc.status, exc.title, exc.description)
            except Exception:  # a fault of ours: still a TAXII error resource, never an HTML page
                log.exception("TAXII %s %s failed", request.method, request.path)
                return error_response(500, "Internal error.", "Nothing was changed; try again later.")

        return wrapper

    return decorate


def _collection(user: Any, collection_id: str) -> Collection:
    found = Collection.objects.visible_to(user).filter(uuid=collection_id).first()
    if found is None:
        raise TaxiiError(404, NOT_FOUND)
    return found


def _collection_resource(collection: Collection, user: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "id": str(collection.uuid),
        "title": collection.title,
        "alias": collection.alias,
        "can_read": True,
        "can_write": writable_by(collection, user),
        "media_types": [STIX_MEDIA],
    }
    if collection.description:
        resource["description"] = collection.description
    return resource


# --- filtering and paging ------------------------------------------------------------------


@dataclass
class Query:
    added_after: datetime | None
    limit: int
    after: datetime | None  # from `next`
    fingerprint: str


def _single(request: HttpRequest, name: str) -> str | None:
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise TaxiiError(400, f"`{name}` may be given once only.")
    return values[0] if values else None


def _csv(value: str, name: str) -> list[str]:
    items = value.split(",")
    if any(not item for item in items) or len(set(items)) != len(items):
        raise TaxiiError(400, f"`{name}` must be a comma-separated list without empty or repeated values.")
    return items


def _timestamp(value: str, name: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise TaxiiError(
            400, f"`{name}` is not a timestamp.", "Use RFC 3339, e.g. 2026-01-01T00:00:00.000000Z."
        ) from None


def _query(request: HttpRequest, scope: str) -> Query:
    """added_after, limit and next, common to the four paged endpoints. A `next` token is bound to
    its query (endpoint, collection, object, filters, caller): one from another query is a 400."""
    params = sorted((k, v) for k, values in request.GET.lists() for v in values if k not in {"next", "limit"})
    fingerprint = hashlib.sha256(json.dumps([scope, params]).encode()).hexdigest()[:24]
    added_after_text = _single(request, "added_after")
    added_after = _timestamp(added_after_text, "added_after") if added_after_text is not None else None
    limit_text = _single(request, "limit")
    limit = max_page_size()
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise TaxiiError(400, "`limit` must be a positive integer.") from None
        if limit <= 0:
            raise TaxiiError(400, "`limit` must be a positive integer.")
        limit = min(limit, max_page_size())
    after = None
    next_text = _single(request, "next")
    if next_text is not None:
        try:
            data = signing.loads(next_text, salt=_NEXT_SALT)
            if data["q"] != fingerprint:
                raise ValueError("another query")
            after = datetime.fromisoformat(data["d"])
        except (signing.BadSignature, ValueError, KeyError, TypeError):
            raise TaxiiError(400, "`next` does not belong to this query.", "Repeat the query without `next`.") from None
    return Query(added_after, limit, after, fingerprint)


def _next_token(query: Query, last_date_added: datetime) -> str:
    return signing.dumps({"q": query.fingerprint, "d": last_date_added.isoformat()}, salt=_NEXT_SALT)


def _versions_filter(request: HttpRequest, collection: Collection) -> Q | None:
    """match[version]: last (default), first, all, or exact versions; OR-ed."""
    text = _single(request, "match[version]")
    values = _csv(text, "match[version]") if text is not None else ["last"]
    if "all" in values:
        if len(values) > 1:
            raise TaxiiError(400, "`match[version]=all` cannot be combined with other values.")
        return None
    rule = Q(pk__in=[])
    exact: list[datetime] = []
    for value in values:
        if value == "last":
            rule |= Q(is_latest=True)
        elif value == "first":
            first = (
                StixObject.objects.filter(collection=collection, stix_id=OuterRef("stix_id"))
                .order_by("version")
                .values("version")[:1]
            )
            rule |= Q(version=Subquery(first))
        else:
            exact.append(_timestamp(value, "match[version]"))
    if exact:
        rule |= Q(version__in=exact)
    return rule


def _filtered(request: HttpRequest, rows: Any, collection: Collection, fields: tuple[str, ...]) -> Any:
    if "id" in fields and (text := _single(request, "match[id]")) is not None:
        rows = rows.filter(stix_id__in=_csv(text, "match[id]"))
    if "type" in fields and (text := _single(request, "match[type]")) is not None:
        rows = rows.filter(type__in=_csv(text, "match[type]"))
    if "spec_version" in fields and (text := _single(request, "match[spec_version]")) is not None:
        rows = rows.filter(spec_version__in=_csv(text, "match[spec_version]"))
    if "version" in fields:
        rule = _versions_filter(request, collection)
        if rule is not None:
            rows = rows.filter(rule)
    return rows


def _page(
    query: Query, rows: Any, *columns: str, every_date: bool = False, as_bytes: bool = False
) -> tuple[list[Any], bool]:
    """One keyset query: rows after the cursor, ordered by date_added (unique per collection), limit + 1
    to learn `more`.

    Run on the cursor, past the ORM's per-row converters: only the first and last date_added are
    needed for the headers and `next` (all of them when `every_date`, for manifest and versions).
    With `as_bytes` the text columns come back as the database's UTF-8 bytes: a page of stored JSON
    is spliced as bytes, without a str per object and an encode of the whole 3 MB page."""
    after = max(filter(None, [query.added_after, query.after]), default=None)
    if after is not None:
        rows = rows.filter(date_added__gt=after)
    sqlite_bytes = as_bytes and connection.vendor == "sqlite"
    if sqlite_bytes:  # SQLite's CAST AS BLOB hands the text's bytes over unchanged
        rows = rows.annotate(**{f"{name}_bytes": Cast(name, BinaryField()) for name in columns})
        columns = tuple(f"{name}_bytes" for name in columns)
    # date_added comes back as text (varchar, which the bytes loader below leaves alone): parsing a
    # thousand timestamps per page costs more than the query. It is unique within a collection, so it
    # orders the page alone (an index range scan, no sort).
    selected = (
        rows.order_by("date_added")
        .annotate(added_text=Cast("date_added", CharField()))
        .values_list("added_text", *columns)[: query.limit + 1]
    )
    sql, params = selected.query.sql_with_params()
    with connection.cursor() as cursor:
        if as_bytes and not sqlite_bytes:  # PostgreSQL: psycopg's loader for text, per cursor
            cursor.cursor.adapters.register_loader("text", _Utf8Bytes)
        cursor.execute(sql, params)
        found: list[Any] = cursor.fetchall()
    more = len(found) > query.limit
    page = found[: query.limit]
    # Rows stay the driver's tuples; only those whose date_added is needed become lists with a datetime.
    for i in range(len(page)) if every_date else {0, len(page) - 1} if page else ():
        row = list(page[i])
        row[0] = _as_datetime(row[0])
        page[i] = row
    return page, more


class _Utf8Bytes(Loader):
    """A text column as the UTF-8 bytes that came over the wire (Django's connections are UTF-8). Only
    `text` columns: the page's date_added is read as varchar and stays a str."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        parsed = parse_datetime(value)
        assert parsed is not None
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date_headers(page: list[tuple[Any, ...]]) -> dict[str, str]:
    if not page:
        return {}
    return {
        "X-TAXII-Date-Added-First": taxii_timestamp(page[0][0]),
        "X-TAXII-Date-Added-Last": taxii_timestamp(page[-1][0]),
    }


def _head(query: Query, page: list[tuple[Any, ...]], more: bool) -> str:
    if not more:
        return '{"more":false'
    return '{"more":true,"next":' + json.dumps(_next_token(query, page[-1][0]))


def _envelope(query: Query, page: list[tuple[Any, ...]], more: bool) -> HttpResponse:
    """The envelope, spliced from the stored JSON of each object (bytes: `_page(..., as_bytes=True)`);
    `{}` when empty."""
    if not page:
        return _json("{}")
    # One join into one buffer: a second 3 MB buffer costs more in fresh memory pages than the copy.
    parts = [_head(query, page, more).encode() + b',"objects":[']
    for row in page:
        parts += (row[1], b",")
    parts[-1] = b"]}"
    return _json(b"".join(parts), headers=_date_headers(page))


# --- endpoints -----------------------------------------------------------------------------


@taxii_view("GET")
def discovery(request: HttpRequest, user: Any) -> HttpResponse:
    return _json(
        {
            "title": "CommonGuard TAXII server",
            "description": "Threat intelligence of the hub: alerts by audience, ATT&CK reference data, imported feeds.",
            "default": API_ROOT_PATH,
            "api_roots": [API_ROOT_PATH],
        }
    )


@taxii_view("GET")
def api_root(request: HttpRequest, user: Any) -> HttpResponse:
    return _json(
        {
            "title": "CommonGuard",
            "description": "Collections are views of what the calling user may see.",
            "versions": [TAXII_MEDIA],
            "max_content_length": max_content_length(),
        }
    )


@taxii_view("GET")
def status(request: HttpRequest, user: Any, status_id: str) -> HttpResponse:
    found = services.taxii_statuses_live().defer("raw").filter(uuid=status_id, user=user).first()
    if found is None:
        raise TaxiiError(404, NOT_FOUND)
    return _json(status_resource(found))


def status_resource(found: TaxiiStatus) -> dict[str, Any]:
    done = found.state == "complete"
    resource: dict[str, Any] = {
        "id": str(found.uuid),
        "status": "complete" if done else "pending",
        "request_timestamp": taxii_timestamp(found.request_timestamp),
        "total_count": found.total_count,
        "success_count": found.success_count,
        "failure_count": found.failure_count,
        "pending_count": 0 if done else found.total_count - found.success_count - found.failure_count,
    }
    if found.successes:
        resource["successes"] = found.successes
    if found.failures:
        resource["failures"] = found.failures
    return resource


@taxii_view("GET")
def collections(request: HttpRequest, user: Any) -> HttpResponse:
    found = [_collection_resource(c, user) for c in Collection.objects.visible_to(user).order_by("kind", "title", "pk")]
    return _json({"collections": found} if found else {})


@taxii_view("GET")
def collection(request: HttpRequest, user: Any, collection_id: str) -> HttpResponse:
    return _json(_collection_resource(_collection(user, collection_id), user))


@taxii_view("GET")
def manifest(request: HttpRequest, user: Any, collection_id: str) -> HttpResponse:
    found = _collection(user, collection_id)
    query = _query(request, f"manifest:{found.uuid}:{user.pk}")
    rows = _filtered(
        request, StixObject.objects.readable_in(found, user), found, ("id", "type", "version", "spec_version")
    )
    page, more = _page(query, rows, "stix_id", "version", "spec_version", every_date=True)
    if not page:
        return _json("{}")
    records = [
        {
            "id": stix_id,
            "date_added": taxii_timestamp(added),
            "version": taxii_timestamp(_as_datetime(version)),
            "media_type": f"application/stix+json;version={spec}",
        }
        for added, stix_id, version, spec in page
    ]
    head = _head(query, page, more)
    return _json(head + ',"objects":' + json.dumps(records, separators=(",", ":")) + "}", headers=_date_headers(page))


@taxii_view("GET", "POST", stix=True)
def objects(request: HttpRequest, user: Any, collection_id: str) -> HttpResponse:
    found = _collection(user, collection_id)
    if request.method == "POST":
        return _objects_post(request, user, found)
    query = _query(request, f"objects:{found.uuid}:{user.pk}")
    rows = _filtered(
        request, StixObject.objects.readable_in(found, user), found, ("id", "type", "version", "spec_version")
    )
    page, more = _page(query, rows, "raw", as_bytes=True)
    return _envelope(query, page, more)


def _objects_post(request: HttpRequest, user: Any, found: Collection) -> HttpResponse:
    if not writable_by(found, user):
        raise TaxiiError(
            403, "You cannot add objects to this collection.", "Add them to your organisation's collection."
        )
    limit = max_content_length()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise TaxiiError(400, "Malformed Content-Length.") from None
    if declared > limit:  # refused before a byte of the body is read
        raise TaxiiError(413, "The body is larger than max_content_length.", f"At most {limit} bytes.")
    content_type = request.META.get("CONTENT_TYPE", "")
    if not _media_ok(content_type, allow_stix=True):
        raise TaxiiError(415, "Unsupported Content-Type.", f"Send Content-Type: {TAXII_MEDIA}.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise TaxiiError(413, "The body is larger than max_content_length.", f"At most {limit} bytes.")
    try:
        envelope = bundle_load(body, what="The body", max_bytes=limit, envelope=True)
    except BundleError as exc:
        if exc.reason in ("type", "objects"):
            raise TaxiiError(400, ENVELOPE_PLEASE) from None
        raise TaxiiError(exc.status, str(exc)) from None
    if not isinstance(envelope.get("objects"), list):
        raise TaxiiError(400, ENVELOPE_PLEASE)
    try:
        result = services.taxii_objects_add(actor=user, collection=found, objects=envelope["objects"])
    except StixInputError as exc:
        where = f" (object {exc.object_id})" if exc.object_id else ""
        raise TaxiiError(422, "The bundle was refused; nothing was stored.", f"{exc}{where}") from None
    return _json(status_resource(result), status=202)


def _object_rows(request: HttpRequest, user: Any, found: Collection, object_id: str) -> Any:
    rows = StixObject.objects.readable_in(found, user).filter(stix_id=object_id)
    if not rows.exists():
        raise TaxiiError(404, NOT_FOUND)
    return rows


@taxii_view("GET", "DELETE", stix=True)
def object_detail(request: HttpRequest, user: Any, collection_id: str, object_id: str) -> HttpResponse:
    found = _collection(user, collection_id)
    rows = _object_rows(request, user, found, object_id)
    if request.method == "DELETE":
        if not writable_by(found, user):
            raise TaxiiError(403, "You cannot delete objects from this collection.")
        if rows.filter(alert__isnull=False).exists():  # readable, so no secret: say why
            raise TaxiiError(403, "This object comes from an alert; it follows the alert (update or revoke it).")
        filtered = _filtered(request, rows, found, ("spec_version",))
        version_text = _single(request, "match[version]")
        if version_text is not None:
            filtered = filtered.filter(_versions_filter(request, found) or Q())
        versions = list(filtered.values_list("version", flat=True))
        if not versions:
            raise TaxiiError(404, NOT_FOUND)
        services.taxii_object_delete(actor=user, collection=found, stix_id=object_id, versions=versions)
        return _json("{}")
    query = _query(request, f"object:{found.uuid}:{object_id}:{user.pk}")
    page, more = _page(query, _filtered(request, rows, found, ("version", "spec_version")), "raw", as_bytes=True)
    return _envelope(query, page, more)


@taxii_view("GET")
def versions(request: HttpRequest, user: Any, collection_id: str, object_id: str) -> HttpResponse:
    found = _collection(user, collection_id)
    rows = _filtered(request, _object_rows(request, user, found, object_id), found, ("spec_version",))
    query = _query(request, f"versions:{found.uuid}:{object_id}:{user.pk}")
    page, more = _page(query, rows, "version", every_date=True)
    if not page:
        return _json("{}")
    listed = json.dumps([taxii_timestamp(_as_datetime(row[1])) for row in page])
    return _json(_head(query, page, more) + ',"versions":' + listed + "}", headers=_date_headers(page))


@taxii_view("GET", "POST", "DELETE", stix=True)
def not_found(request: HttpRequest, user: Any, *args: Any, **kwargs: Any) -> HttpResponse:
    raise TaxiiError(404, NOT_FOUND)
