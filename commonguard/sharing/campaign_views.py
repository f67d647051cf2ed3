"""The campaign map pages: one alert's sightings by county, and every readable alert's over the last
days, with the JSON their script polls. Access, act, respond: an alert the person may not read is a
404 exactly like one that does not exist, on the page and on its JSON."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing import services
from commonguard.sharing.campaign import (
    DEFAULT_DAYS,
    MIN_COUNTY_AUDIENCE,
    Campaign,
    campaign_for_alert,
    campaign_statewide,
    scale_json,
)
from commonguard.sharing.models import Alert
from commonguard.web.decorators import vetted_required
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest

POLL_SECONDS = 5
DAYS_CHOICES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "365 days")]


class DaysForm(Form):
    days = forms.TypedChoiceField(
        label="Sightings of the last", choices=DAYS_CHOICES, coerce=int, initial=DEFAULT_DAYS, required=False
    )

    def clean_days(self) -> int:
        return self.cleaned_data.get("days") or DEFAULT_DAYS


def _for_alert(request: AuthedRequest, uuid: UUID) -> tuple[Alert, Campaign]:
    try:
        campaign = campaign_for_alert(user=request.user, uuid=uuid)
    except Alert.DoesNotExist:
        raise Http404 from None
    assert campaign.alert is not None
    return campaign.alert, campaign


def _json(campaign: Campaign, status: int = 200) -> JsonResponse:
    response = JsonResponse(campaign.as_json(), status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store, private"
    return response


def _page(request: AuthedRequest, campaign: Campaign, data_url: str, **context: Any) -> HttpResponse:
    county_names = dict(
        Organization.objects.visible_to(request.user)
        .filter(kind=Organization.Kind.COUNTY, county_fips__startswith=campaign.state_fips)
        .values_list("county_fips", "name")
    )
    config = {
        "data": campaign.as_json(),
        "data_url": data_url,
        "atlas_url": static("atlas/counties-10m.json"),
        "poll_seconds": POLL_SECONDS,
        "scale": scale_json(),
        "county_names": county_names,
    }
    return render(
        request,
        "sharing/campaign_map.html",
        {
            "campaign": campaign,
            "config": config,
            "scale": scale_json(),
            "min_audience": MIN_COUNTY_AUDIENCE,
            **context,
        },
    )


@vetted_required
@require_GET
def alert_map(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert, campaign = _for_alert(request, uuid)
    return _page(
        request,
        campaign,
        reverse("sharing:map-data", kwargs={"uuid": alert.uuid}),
        alert=alert,
        author=services.author_label(alert, request.user),
        tlp_label=TLP(alert.tlp).label,
    )


@vetted_required
@require_GET
def alert_map_data(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    """Polled by the map every few seconds: the same figures as the page, as JSON."""
    return _json(_for_alert(request, uuid)[1])


@vetted_required
@require_GET
def statewide_map(request: AuthedRequest) -> HttpResponse:
    form = DaysForm(request.GET or None)
    days = form.cleaned_data["days"] if form.is_valid() else DEFAULT_DAYS
    campaign = campaign_statewide(user=request.user, days=days)
    data_url = reverse("sharing:statewide-map-data") + f"?days={days}"
    response = _page(request, campaign, data_url, form=form, days=days)
    if form.is_bound and not form.is_valid():
        response.status_code = 400
    return response


@vetted_required
@require_GET
def statewide_map_data(request: AuthedRequest) -> HttpResponse:
    form = DaysForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return JsonResponse(
            {"error": {"code": "invalid", "message": "The query is not valid.", "fields": fields}}, status=400
        )
    days = form.cleaned_data["days"] if form.is_bound else DEFAULT_DAYS
    return _json(campaign_statewide(user=request.user, days=days))
