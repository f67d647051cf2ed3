"""Pages: upload a STIX bundle (an import job, its progress refreshed by htmx), and search the
intelligence the hub holds (docs/adr/0023-stix-import-jobs.md)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP
from commonguard.interop.imports import ImportRefused, max_bytes, stix_import_request
from commonguard.interop.models import StixImport
from commonguard.interop.selectors import INTELLIGENCE_TYPES, intelligence_search
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest


class StixUploadForm(Form):
    file = forms.FileField(label=f"STIX 2.0 or 2.1 bundle (JSON, up to {max_bytes() // (1024 * 1024)} MB)")
    organization = forms.TypedChoiceField(label="For", coerce=int)
    tlp = forms.ChoiceField(
        label="Label of objects without a TLP marking",
        choices=[(t.value, t.label) for t in TLP],
        initial=TLP.AMBER,
        help_text="Objects that carry a TLP marking keep theirs; this is never CLEAR unless you choose it.",
    )

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update({"class": "usa-file-input", "accept": ".json,application/json"})
        set_choices(self, "organization", orgs)


class IntelligenceSearchForm(Form):
    q = forms.CharField(label="Name, alias or external id (such as T1566)", required=False, max_length=200)
    type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *[(t, t) for t in INTELLIGENCE_TYPES]]
    )


def _my_orgs(request: AuthedRequest) -> list[tuple[int, str]]:
    ids = viewer_for(request.user).org_ids
    orgs = Organization.objects.visible_to(request.user).filter(pk__in=list(ids)).order_by("sort_name")
    return [(o.pk, o.name) for o in orgs]


@vetted_required
def import_list(request: AuthedRequest) -> HttpResponse:
    form = StixUploadForm(request.POST or None, request.FILES or None, orgs=_my_orgs(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            org = Organization.objects.get(pk=form.cleaned_data["organization"])
            try:
                if upload.size > max_bytes():
                    raise ImportRefused(f"The file is over {max_bytes() // (1024 * 1024)} MB.", 413)
                job = stix_import_request(
                    actor=request.user,
                    organization=org,
                    raw=upload.read(),
                    default_tlp=form.cleaned_data["tlp"],
                    filename=upload.name or "",
                )
            except ImportRefused as exc:
                form.add_error("file", str(exc))
                status = exc.status
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc, "file")
            else:
                return redirect("stix:import", job_uuid=job.uuid)
    jobs = StixImport.objects.visible_to(request.user).select_related("organization", "created_by").defer("raw")[:50]
    return render(request, "interop/import_list.html", {"form": form, "jobs": jobs}, status=status)


@vetted_required
def import_detail(request: AuthedRequest, job_uuid: str) -> HttpResponse:
    job = StixImport.objects.visible_to(request.user).select_related("organization").filter(uuid=job_uuid).first()
    if job is None:
        raise Http404
    from commonguard.sharing.models import Alert

    alert = Alert.objects.visible_to(request.user).filter(pk=job.alert_id).first() if job.alert_id else None
    template = "interop/partials/import_progress.html" if request.htmx else "interop/import_detail.html"
    return render(request, template, {"job": job, "alert": alert})


@vetted_required
def intelligence(request: AuthedRequest) -> HttpResponse:
    form = IntelligenceSearchForm(request.GET or None)
    hits = None
    if form.is_valid() and (form.cleaned_data["q"] or form.cleaned_data["type"]):
        hits = intelligence_search(request.user, form.cleaned_data["q"], form.cleaned_data["type"])
    return render(request, "interop/intelligence.html", {"form": form, "hits": hits})
