"""“Have we seen this?” page: paste or upload a log, see every line that mentions an indicator the
person may see, optionally record sightings, or download all the matches as CSV. The log is read in
memory and never stored."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing.indicators import defang
from commonguard.sharing.lookup import MAX_LINE_SHOWN, LineMatch
from commonguard.sharing.lookup_services import (
    MAX_LOG_BYTES,
    SHOWN_MATCHES,
    LogUploadHandler,
    Lookup,
    log_from,
    lookup_log,
    lookup_sightings_record,
    too_big_message,
)
from commonguard.sharing.models import Indicator
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest

KIND_LABELS = dict(Indicator.Kind.choices)


class LookupForm(Form):
    text = forms.CharField(
        label="Paste log lines",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off"}),
    )
    file = forms.FileField(
        label=f"Or choose a log file (text or CSV, up to {MAX_LOG_BYTES // (1024 * 1024)} MB)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".log,.txt,.csv,text/plain,text/csv"}),
    )
    record_sightings = forms.BooleanField(label="Record a sighting for each matched alert", required=False)
    organization = forms.TypedChoiceField(label="Sightings for", coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orgs = orgs
        self.fields["file"].widget.attrs["class"] = "usa-file-input"
        if orgs:
            set_choices(self, "organization", orgs)
            self.fields["organization"].initial = orgs[0][0]
        else:  # the hub operator answers for no organisation
            del self.fields["record_sightings"], self.fields["organization"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("record_sightings") and not data.get("organization") and len(self.orgs) == 1:
            data["organization"] = self.orgs[0][0]  # the person's only organisation
        if data.get("record_sightings") and not data.get("organization"):
            self.add_error("organization", "Choose the organisation the sightings are for.")
        return data


def _orgs(request: AuthedRequest) -> list[tuple[int, str]]:
    orgs = Organization.objects.visible_to(request.user).filter(pk__in=viewer_for(request.user).org_ids)
    return [(o.pk, o.name) for o in orgs.order_by("sort_name")]


@csrf_exempt
def lookup_page(request: AuthedRequest) -> HttpResponse:
    """An upload is read by LogUploadHandler (memory only, capped), which must be in place before
    the CSRF check reads the body; the check itself then runs as on every other form."""
    request.upload_handlers = [LogUploadHandler(request)]
    return _lookup_page(request)


@csrf_protect
@vetted_required
def _lookup_page(request: AuthedRequest) -> HttpResponse:
    orgs = _orgs(request)
    if request.method != "POST":
        return _render(request, LookupForm(orgs=orgs))
    try:
        post, files = request.POST, request.FILES
    except (RequestDataTooBig, TooManyFieldsSent):
        limit = filesizeformat(_data_limit())
        problem = f"Pasted text is limited to {limit}; nothing was kept. Choose the log as a file instead."
        return _render(request, LookupForm(orgs=orgs), problem=problem, status=413)
    form = LookupForm(post, files, orgs=orgs)
    handler = request.upload_handlers[0]
    if isinstance(handler, LogUploadHandler) and handler.too_big:
        form.is_valid()
        form.add_error("file", too_big_message())
        return _render(request, form, status=413)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        data = log_from(text=form.cleaned_data["text"], upload=form.cleaned_data["file"])
    except ValidationError as exc:
        apply_validation_error(form, exc, "text")
        return _render(request, form, status=400)
    want_csv = post.get("action") == "csv"
    found = lookup_log(user=request.user, data=data, keep=None if want_csv else SHOWN_MATCHES)
    del data
    if want_csv:
        return _csv(found)
    if form.cleaned_data.get("record_sightings") and found.alerts:
        org = Organization.objects.visible_to(request.user).get(pk=form.cleaned_data["organization"])
        try:
            recorded = lookup_sightings_record(actor=request.user, organization=org, found=found)
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
            return _render(request, form, found, status=400)
        messages.success(
            request,
            f"Recorded {len(recorded)} sighting{'s' if len(recorded) != 1 else ''} for {org.name}; "
            "the authors can see them.",
        )
    return _render(request, form, found)


def _data_limit() -> int:
    from django.conf import settings

    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


def _match_row(match: LineMatch, found: Lookup) -> dict[str, Any]:
    return {
        "line_no": match.line_no,
        "text": match.shown(),
        "indicators": [(KIND_LABELS.get(r.kind, r.kind), defang(r.kind, r.value)) for r in match.refs],
        "alerts": list(dict.fromkeys(found.alerts[r.alert_id] for r in match.refs if r.alert_id in found.alerts)),
    }


def _render(
    request: AuthedRequest, form: LookupForm, found: Lookup | None = None, *, problem: str = "", status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {"form": form, "found": found, "shown_limit": SHOWN_MATCHES, "problem": problem}
    if found is not None:
        context["alert_rows"] = [(a, TLP(a.tlp).label, n) for a, n in found.alert_rows()]
        context["rows"] = [_match_row(m, found) for m in found.result.matches]
    return render(request, "sharing/lookup.html", context, status=status)


def _csv(found: Lookup) -> HttpResponse:
    """Every matched line: one row per line and indicator, matched values defanged."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="lookup-matches.csv"'
    out = csv.writer(response)
    out.writerow(["line", "indicator_kind", "indicator", "alert", "alert_title", "tlp", "text"])
    for match in found.result.matches:
        text = match.shown(limit=max(MAX_LINE_SHOWN, 4000))
        for ref in match.refs:
            alert = found.alerts.get(ref.alert_id)
            if alert is None:
                continue
            out.writerow(
                [match.line_no, ref.kind, defang(ref.kind, ref.value), alert.uuid, alert.title, alert.tlp, text]
            )
    return response
