"""The hub operator's view of federation (docs/adr/0030-federation-operations.md): every peer with
its community and AMBER settings, when it was last pushed to and pulled from, its outbox backlog
and last error; and one peer's recent outbox rows. Read-only: peers are configured with
`manage.py federation_peer` (who may run it runs the hub), so only the hub's operator reads these
pages; anyone else gets the 404 of a page that does not exist. No alert content is shown here (the
operator reads alerts through the same rule as everyone: ADR 13), only ids and delivery states."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from commonguard.accounts.viewer import viewer_for
from commonguard.federation import selectors
from commonguard.federation.models import Peer
from commonguard.web.decorators import vetted_required
from commonguard.web.http import AuthedRequest


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as the hub's operator; for anyone else the page does not exist."""

    @vetted_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not viewer_for(request.user).is_operator:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@operator_required
@require_GET
def peer_list(request: AuthedRequest) -> HttpResponse:
    return render(request, "federation/peer_list.html", {"rows": selectors.peer_statuses(), **_common()})


@operator_required
@require_GET
def peer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    rows = selectors.peer_statuses(Peer.objects.filter(pk=pk))
    if not rows:
        raise Http404
    row = rows[0]
    context = {"row": row, "peer": row.peer, "changes": selectors.recent_changes(row.peer), **_common()}
    return render(request, "federation/peer_detail.html", context)


def _common() -> dict[str, Any]:
    from django.conf import settings

    return {"retention_days": settings.COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS}
