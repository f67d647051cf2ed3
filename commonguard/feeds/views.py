"""Pages: the feeds of your organisations (set up, pull, progress), the MISP event upload, and how
to subscribe a MISP instance to the hub's MISP feed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP
from commonguard.feeds.misp import MispError, upload_event
from commonguard.feeds.models import Feed
from commonguard.feeds.services import FeedInput, feed_request_pull, feed_save
from commonguard.feeds.sources import max_bytes
from commonguard.orgs.models import Organization
from commonguard.sharing.models import Alert, Indicator
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest

FEED_TLPS = [(t.value, t.label) for t in TLP if t != TLP.RED]


class FeedForm(Form):
    name = forms.CharField(max_length=120)
    source = forms.CharField(
        max_length=500,
        help_text="An http(s) URL, or a file (or MISP feed folder) on the hub. TAXII: the collection's URL.",
    )
    format = forms.ChoiceField(choices=Feed.Format.choices)
    owner = forms.TypedChoiceField(label="Organisation", coerce=int)
    tlp = forms.ChoiceField(label="Label (TLP)", choices=FEED_TLPS, initial=TLP.AMBER)
    kind = forms.ChoiceField(
        label="Kind of every value", required=False, choices=[("", "Guess each value"), *list(Indicator.Kind.choices)]
    )
    category = forms.ChoiceField(choices=Alert.Category.choices, initial=Alert.Category.MALWARE)
    csv_value_column = forms.CharField(label="CSV: value column (name or number)", required=False, initial="1")
    csv_kind_column = forms.CharField(label="CSV: kind column (optional)", required=False)
    csv_comment_column = forms.CharField(label="CSV: comment column (optional)", required=False)
    csv_header = forms.BooleanField(label="CSV: the first row names the columns", required=False)
    taxii_user = forms.CharField(label="TAXII: user name (optional)", required=False, max_length=200)
    credentials = forms.CharField(
        label="TAXII: API token or password (optional)",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Without a user name the token is sent as a Bearer token. It is never shown again.",
    )
    interval_minutes = forms.IntegerField(label="Pull every N minutes (0: only when asked)", min_value=0, initial=0)
    enabled = forms.BooleanField(label="Enabled: pulled on its schedule", required=False, initial=True)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "owner", orgs)

    def feed_input(self, *, keep_audience: Feed | None = None) -> FeedInput:
        """The form's answers for feed_save; a change keeps the feed's named organisations and groups
        (set through the API) and, when the secret field is left empty, its stored secret."""
        data = self.cleaned_data
        return FeedInput(
            name=data["name"],
            source=data["source"],
            format=data["format"],
            owner=Organization.objects.get(pk=data["owner"]),
            tlp=data["tlp"],
            kind=data["kind"],
            category=data["category"],
            csv_value_column=data["csv_value_column"] or "1",
            csv_kind_column=data["csv_kind_column"],
            csv_comment_column=data["csv_comment_column"],
            csv_header=data["csv_header"],
            taxii_user=data["taxii_user"],
            credentials=data["credentials"] or None,
            interval_minutes=data["interval_minutes"],
            enabled=data["enabled"],
            recipient_orgs=list(keep_audience.recipient_orgs.all()) if keep_audience else [],
            sharing_groups=list(keep_audience.sharing_groups.all()) if keep_audience else [],
        )


class MispUploadForm(Form):
    file = forms.FileField(label=f"MISP event file (JSON, up to {max_bytes() // (1024 * 1024)} MB)")
    organization = forms.TypedChoiceField(label="For", coerce=int)
    tlp = forms.ChoiceField(
        label="Label when the event has no tlp: tag", choices=[(t.value, t.label) for t in TLP], initial=TLP.AMBER
    )
    category = forms.ChoiceField(choices=Alert.Category.choices, initial=Alert.Category.OTHER)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update({"class": "usa-file-input", "accept": ".json,application/json"})
        set_choices(self, "organization", orgs)


def _orgs(request: AuthedRequest, *, admin: bool) -> list[tuple[int, str]]:
    viewer = viewer_for(request.user)
    ids = viewer.admin_org_ids if admin else viewer.org_ids
    orgs = Organization.objects.visible_to(request.user).filter(pk__in=list(ids)).order_by("sort_name")
    return [(o.pk, o.name) for o in orgs]


@vetted_required
def feed_list(request: AuthedRequest) -> HttpResponse:
    admin_orgs = _orgs(request, admin=True)
    form = FeedForm(request.POST or None, orgs=admin_orgs) if admin_orgs else None
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                feed = feed_save(actor=request.user, data=form.feed_input())
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"The feed “{feed.name}” is set up. Pull it now, or wait for its schedule.")
                return redirect("feeds:detail", pk=feed.pk)
        return _render_list(request, form, status=400)
    return _render_list(request, form)


def _render_list(request: AuthedRequest, form: FeedForm | None, status: int = 200) -> HttpResponse:
    feeds = Feed.objects.visible_to(request.user).select_related("owner")
    return render(request, "feeds/feed_list.html", {"feeds": feeds, "form": form}, status=status)


def _feed_or_404(request: AuthedRequest, pk: int) -> Feed:
    feed = Feed.objects.visible_to(request.user).select_related("owner").filter(pk=pk).first()
    if feed is None:
        raise Http404
    return feed


@vetted_required
def feed_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    feed = _feed_or_404(request, pk)
    if request.method == "POST":
        try:
            feed_request_pull(actor=request.user, feed=feed)
        except PermissionDenied as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, "The pull is queued; its progress shows below.")
        return redirect("feeds:detail", pk=feed.pk)
    alert = None
    if feed.format != Feed.Format.MISP:
        alert = Alert.objects.visible_to(request.user).filter(source_key=feed.source_key).first()
    context = {
        "feed": feed,
        "alert": alert,
        "can_pull": feed.owner_id in viewer_for(request.user).admin_org_ids,
        "misp_alerts": Alert.objects.visible_to(request.user).filter(misp_import__feed=feed)[:50]
        if feed.format == Feed.Format.MISP
        else [],
    }
    template = "feeds/partials/progress.html" if request.htmx else "feeds/feed_detail.html"
    return render(request, template, context)


@vetted_required
def feed_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """Change a feed: admins of its organisation (others who may read it are told why not)."""
    feed = _feed_or_404(request, pk)
    if feed.owner_id not in viewer_for(request.user).admin_org_ids:
        raise PermissionDenied("Only an admin of the owning organisation can change its feeds.")
    initial = {name: getattr(feed, name) for name in FeedForm.base_fields if name not in {"owner", "credentials"}}
    initial["owner"] = feed.owner_id
    form = FeedForm(request.POST or None, initial=initial, orgs=_orgs(request, admin=True))
    if request.method == "POST":
        if form.is_valid():
            try:
                feed_save(actor=request.user, data=form.feed_input(keep_audience=feed), feed=feed)
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"The feed “{feed.name}” is changed.")
                return redirect("feeds:detail", pk=feed.pk)
        return render(request, "feeds/feed_edit.html", {"feed": feed, "form": form}, status=400)
    return render(request, "feeds/feed_edit.html", {"feed": feed, "form": form})


@vetted_required
def misp_upload(request: AuthedRequest) -> HttpResponse:
    orgs = _orgs(request, admin=False)
    form = MispUploadForm(request.POST or None, request.FILES or None, orgs=orgs)
    if request.method == "POST":
        if not form.is_valid():
            return _render_upload(request, form, 400)
        upload = form.cleaned_data["file"]
        if upload.size > max_bytes():
            form.add_error("file", f"The file is over {max_bytes() // (1024 * 1024)} MB.")
            return _render_upload(request, form, 413)
        org = Organization.objects.get(pk=form.cleaned_data["organization"])
        try:
            result = upload_event(
                upload.read(),
                actor=request.user,
                org=org,
                default_tlp=form.cleaned_data["tlp"],
                category=form.cleaned_data["category"],
            )
        except MispError as exc:
            form.add_error("file", str(exc))
            return _render_upload(request, form, 400)
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc, "file")
            return _render_upload(request, form, 400)
        said = {"created": "imported", "updated": "imported as a new version", "unchanged": "already imported"}
        messages.success(
            request,
            f"MISP event {said[result.outcome]}: {result.indicators} indicators"
            + (f", {result.invalid} invalid values skipped" if result.invalid else "")
            + (f", {result.skipped} attributes that are not indicators kept out" if result.skipped else "")
            + ". It is published without announcement.",
        )
        return redirect(reverse("sharing:alert", args=[result.alert.uuid]))
    return _render_upload(request, form)


def _render_upload(request: AuthedRequest, form: MispUploadForm, status: int = 200) -> HttpResponse:
    base = request.build_absolute_uri(reverse("feeds:misp-manifest")).rsplit("/", 1)[0] + "/"
    return render(request, "feeds/misp_upload.html", {"form": form, "feed_url": base}, status=status)
