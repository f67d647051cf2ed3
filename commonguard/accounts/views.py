"""Sign-in (password, then TOTP), join requests, and the person's own account page."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from commonguard.accounts import services
from commonguard.accounts.forms import JoinForm, OtpForm, RegisterForm, SignInForm, TokenCreateForm, TotpConfirmForm
from commonguard.accounts.models import ApiToken, Membership
from commonguard.core.audit import audit_record
from commonguard.core.models import AuditEvent
from commonguard.orgs.forms import NewOrganizationForm
from commonguard.orgs.models import Organization
from commonguard.orgs.selectors import organization_for_join, organization_join_candidates
from commonguard.orgs.services import organization_request
from commonguard.web.errors import apply_validation_error, form_errors_text, set_choices
from commonguard.web.http import AuthedRequest, acting_user


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(
            actor=acting_user(self.request),
            action="sign_in.password",
            kind=AuditEvent.Kind.SIGN_IN,
            summary=f"{acting_user(self.request).email} signed in with a password",
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        email = str(form.data.get("username", ""))[:254]
        audit_record(
            actor=None,
            action="sign_in.failed",
            kind=AuditEvent.Kind.SIGN_IN,
            summary=f"Failed sign-in for {email or 'an empty e-mail'}",
            data={"email": email},
        )
        return super().form_invalid(form)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "is_verified", lambda: False)():
        return redirect(_safe_next(request))
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"].strip().replace(" ", "")
        device = next((d for d in devices_for_user(user) if d.verify_token(token)), None)
        if device is not None:
            otp_login(request, device)
            audit_record(
                actor=user,
                action="sign_in.mfa",
                kind=AuditEvent.Kind.SIGN_IN,
                summary=f"{user.email} completed two-step sign-in ({device.__class__.__name__})",
            )
            return redirect(_safe_next(request))
        audit_record(
            actor=user,
            action="sign_in.mfa_failed",
            kind=AuditEvent.Kind.SIGN_IN,
            summary=f"{user.email} entered a wrong or expired code",
        )
        form.add_error("token", "That code is wrong or has expired. Enter the newest code from your app.")
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _safe_next(request)})


@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request: AuthedRequest) -> HttpResponse:
    """Enrol an authenticator app: show the QR code and secret, confirm with a first code."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            codes = services.mfa_totp_confirm(actor=user, device=device, token=form.cleaned_data["token"])
        except ValidationError as exc:
            apply_validation_error(form, exc, default_field="token")
        else:
            otp_login(request, device)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _safe_next(request)})
    if device is None or request.method == "GET":
        device = services.mfa_totp_begin(actor=user)
    qr = segno.make(device.config_url, error="m")
    secret = device.config_url.split("secret=")[1].split("&")[0]
    return render(
        request,
        "accounts/mfa_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=4, title="QR code for your authenticator app"),
            "secret": secret,
            "required": services.mfa_required(user),
            "next": _safe_next(request),
        },
    )


@login_required
def account(request: AuthedRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/account.html",
        {
            "has_totp": services.mfa_confirmed_totp(user) is not None,
            "mfa_required": services.mfa_required(user),
            "memberships": Membership.objects.filter(user=user).select_related("organization"),
            "tokens": ApiToken.objects.visible_to(user),
            "token_form": TokenCreateForm(),
        },
    )


@login_required
@require_POST
def recovery_codes(request: AuthedRequest) -> HttpResponse:
    codes = services.mfa_recovery_codes_regenerate(actor=request.user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": "/accounts/"})


@login_required
@require_POST
def mfa_disable(request: AuthedRequest) -> HttpResponse:
    try:
        services.mfa_disable(actor=request.user)
        messages.success(request, "Two-step sign-in is off.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts:account")


@login_required
@require_POST
def token_create(request: AuthedRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        expires = form.cleaned_data["expires_at"]
        expires_at = timezone.make_aware(datetime.combine(expires, time(23, 59))) if expires else None
        try:
            token, secret = services.token_create(
                actor=request.user, name=form.cleaned_data["name"], expires_at=expires_at
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            return render(request, "accounts/token_created.html", {"token": token, "secret": secret})
    messages.error(request, "The token was not created: " + form_errors_text(form))
    return redirect("accounts:account")


@login_required
@require_POST
def token_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.visible_to(request.user), pk=pk)
    try:
        services.token_revoke(actor=request.user, token=token)
        messages.success(request, f"Token “{token.name}” is revoked; anything using it stops working now.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts:account")


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Step 1 of joining: an account. Step 2 (join_organization) names the organisation."""
    if request.user.is_authenticated:
        return redirect("accounts:join")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                email=data["email"],
                full_name=data["full_name"],
                password=data["password"],
                title=data["title"],
                phone=data["phone"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc, default_field="password")
        else:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Your account is ready. Now tell us which organisation you work for.")
            return redirect("accounts:join")
    return render(request, "accounts/register.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def join_organization(request: AuthedRequest) -> HttpResponse:
    """Ask to join an existing organisation, or ask the state to add a new one."""
    form = JoinForm(request.POST or None)
    chosen: Organization | None = None
    if form.is_bound and str(form.data.get("organization", "")).isdigit():
        chosen = Organization.objects.approved().filter(pk=int(form.data["organization"])).first()
    if request.method == "POST" and form.is_valid():
        org = organization_for_join(pk=form.cleaned_data["organization"])
        try:
            services.membership_request(
                actor=request.user,
                organization=org,
                role=form.cleaned_data["role"],
                message=form.cleaned_data["message"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Your request to join {org.name} is sent. Its admin will approve it.")
            return redirect("web:home")
    q = request.GET.get("q", "")[:100]
    return render(
        request,
        "accounts/join.html",
        {
            "form": form,
            "chosen": chosen,
            "q": q,
            "candidates": organization_join_candidates(q=q) if q else [],
            "my_requests": Membership.objects.filter(user=request.user).select_related("organization"),
        },
    )


@login_required
def join_candidates(request: AuthedRequest) -> HttpResponse:
    """htmx: organisations whose name matches, for the join picker (public-record names only)."""
    q = request.GET.get("q", "")[:100]
    return render(
        request, "accounts/partials/join_candidates.html", {"candidates": organization_join_candidates(q=q), "q": q}
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_organization(request: AuthedRequest) -> HttpResponse:
    form = NewOrganizationForm(request.POST or None)
    state = str(form.data.get("state") or request.GET.get("state") or "MI")
    counties = Organization.objects.approved().filter(kind="county", state=state).values_list("id", "name")
    set_choices(form, "county", [("", "— none / statewide —"), *counties])
    if not form.is_bound:
        from django.conf import settings

        form.initial["state"] = settings.COMMONGUARD_STATE
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        county = (
            Organization.objects.approved().filter(pk=data["county"], kind="county").first() if data["county"] else None
        )
        try:
            org = organization_request(
                actor=request.user,
                name=data["name"],
                kind=data["kind"],
                state=data["state"],
                county=county,
                website=data["website"],
                population=data["population"],
                message=data["message"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Your request to add {org.name} is sent to the state liaison.")
            return redirect("web:home")
    return render(request, "accounts/request_organization.html", {"form": form})
