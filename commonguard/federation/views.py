"""The two endpoints a peer hub calls, authenticated by the link's secret (Bearer):

- `GET /federation/v1/changes/?added_after=<seq>&limit=<n>`: the changes for the calling peer after
  its cursor (each the alert's current bundle or a tombstone), `next` = the cursor to send next;
- `POST /federation/v1/inbox/`: one bundle pushed by the peer; answers what happened.

Any caller that is not a configured, enabled peer gets 401, whatever it asks.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from commonguard.core import context
from commonguard.federation.rules import hub_id
from commonguard.federation.services import FederationError, changes_page, peer_for_token, receive
from commonguard.interop.stix import BundleError, bundle_load

MAX_BODY = 20 * 1024 * 1024


def _error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": status, "message": message}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="CommonGuard federation"'
    return response


def _peer(request: HttpRequest) -> Any:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return peer_for_token(token.strip()) if scheme.lower() == "bearer" else None


@require_http_methods(["GET"])
def changes(request: HttpRequest) -> JsonResponse:
    peer = _peer(request)
    if peer is None:
        return _error(401, "A peer hub's token is required.")
    try:
        after = int(request.GET.get("added_after", "0"))
        limit = min(max(int(request.GET.get("limit", "100")), 1), 500)
    except ValueError:
        return _error(400, "added_after and limit must be integers.")
    return JsonResponse(changes_page(peer, after, limit))


@csrf_exempt
@require_http_methods(["POST"])
def inbox(request: HttpRequest) -> JsonResponse:
    peer = _peer(request)
    if peer is None:
        return _error(401, "A peer hub's token is required.")
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return _error(413, "The bundle is too large.")
    try:
        bundle = bundle_load(request.body, max_bytes=MAX_BODY)
    except BundleError as exc:
        return _error(exc.status, str(exc))
    token = context.bind(context.RequestContext(channel="federation"))
    try:
        outcome = receive(peer, bundle)
    except FederationError as exc:
        return _error(exc.status, str(exc))
    except IntegrityError:
        return _error(409, "The same alert arrived by another route at the same time: send it again.")
    finally:
        context.reset(token)
    return JsonResponse({"hub": hub_id(), "result": outcome})
