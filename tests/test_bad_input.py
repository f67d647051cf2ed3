"""Bad input gets a clear error and changes nothing."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from commonguard.accounts.models import ApiToken, Membership, User
from commonguard.accounts.services import token_create, token_revoke
from commonguard.core.models import AuditEvent
from commonguard.orgs.models import Organization
from tests.conftest import sign_in
from tests.factories import PASSWORD


def test_malformed_fips_is_refused(world):
    for field, bad in [
        ("county_fips", "2606"),
        ("county_fips", "26ABC"),
        ("place_fips", "264600"),
        ("county_fips", "39049"),
    ]:
        org = Organization(name="Bad FIPS County", kind="county", state="MI", **{field: bad})
        with pytest.raises(ValidationError) as caught:
            org.full_clean(exclude=["search_name", "sort_name"])
        assert field in caught.value.message_dict
    assert not Organization.objects.filter(name="Bad FIPS County").exists()


def test_malformed_fips_in_the_admin_site_changes_nothing(world):
    client = sign_in(Client(), world["operator"])
    count = Organization.objects.count()
    response = client.post(
        "/admin/orgs/organization/add/",
        {
            "name": "Nowhere County",
            "kind": "county",
            "status": "approved",
            "state": "MI",
            "county_fips": "26x1",
            "time_zone": "America/Detroit",
        },
    )
    assert response.status_code == 200
    assert "A county FIPS code is five digits" in response.content.decode()
    assert Organization.objects.count() == count


def test_duplicate_join_request(world, as_persona):
    client = as_persona("unvetted")
    before = Membership.objects.count()
    response = client.post("/api/v1/memberships/", {"organization": world.ingham.pk}, content_type="application/json")
    assert response.status_code == 400
    assert "already asked to join Ingham County" in str(response.json()["error"]["fields"])
    # And on the page.
    page = client.post("/accounts/join/", {"organization": world.ingham.pk, "role": "member"})
    assert "already asked to join Ingham County" in page.content.decode()
    assert Membership.objects.count() == before


def test_join_request_for_a_role_the_kind_cannot_give(world, as_persona):
    client = as_persona("washtenaw_member")
    response = client.post(
        "/api/v1/memberships/",
        {"organization": world.ingham.pk, "role": "state_liaison"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "cannot give the role" in response.json()["error"]["message"]
    assert not Membership.objects.filter(user=world["washtenaw_member"], organization=world.ingham).exists()


def test_expired_totp_code_is_refused(world):
    user = world["ingham_admin"]
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/")["Location"].startswith("/accounts/mfa/verify/")
    old = totp(device.bin_key, step=30, t0=600)  # the code of ten minutes ago
    response = client.post("/accounts/mfa/verify/", {"token": f"{old:06d}"})
    assert response.status_code == 200
    assert "That code is wrong or has expired" in response.content.decode()
    assert client.get("/")["Location"].startswith("/accounts/mfa/verify/")  # still not verified
    assert AuditEvent.objects.filter(action="sign_in.mfa_failed", actor=user).count() == 1
    # django-otp throttles a device after a failure (1 s, doubling); let that window pass.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    good = totp(device.bin_key, step=30)
    assert client.post("/accounts/mfa/verify/", {"token": f"{good:06d}"})["Location"] == "/"
    assert client.get("/").status_code == 200


def test_revoked_token_is_refused(world):
    user = world["ingham_member"]
    token, secret = token_create(actor=user, name="SIEM")
    api = Client()
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    token_revoke(actor=user, token=token)
    before = (ApiToken.objects.get(pk=token.pk).last_used_at, AuditEvent.objects.count())
    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid, expired or revoked API token."
    response = api.post(
        "/api/v1/memberships/",
        {"organization": world.washtenaw.pk},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 401
    assert (ApiToken.objects.get(pk=token.pk).last_used_at, AuditEvent.objects.count()) == before
    assert not Membership.objects.filter(user=user, organization=world.washtenaw).exists()


def test_malformed_token_header(world):
    api = Client()
    for header in ["Bearer", "Bearer a b", "Bearer cg_nope", "Basic !!!notbase64", "Bearer cg_123_456"]:
        response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert "error" in response.json()


def test_csrf_less_post_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, world["ingham_admin"])
    membership = world.memberships["unvetted"]
    response = client.post(f"/organizations/memberships/{membership.pk}/approve/")
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    membership.refresh_from_db()
    assert membership.status == "pending"
    # The API refuses a session-authenticated write without the token too.
    response = client.post(f"/api/v1/memberships/{membership.pk}/approve/", {}, content_type="application/json")
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.status == "pending"


def _login(client: Client, email: str, password: str) -> str:
    page = client.get("/accounts/login/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client.post(
        "/accounts/login/", {"username": email, "password": password, "csrfmiddlewaretoken": csrf}
    ).content.decode()


def test_twenty_wrong_passwords_lock_the_account_out(world):
    user = world["ingham_member"]
    password_hash = user.password
    client = Client(enforce_csrf_checks=True)
    pages = [_login(client, user.email, f"wrong-{i}") for i in range(20)]
    assert "do not match an account" in pages[0]
    assert all("Sign-in is paused" in p for p in pages[5:])
    # Even the right password is refused while locked out.
    assert "Sign-in is paused" in _login(client, user.email, PASSWORD)
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert user.password == password_hash
    assert User.objects.get(pk=user.pk).last_login is None
    # Another person from the same address is not locked out.
    other = world["washtenaw_member"]
    _login(client, other.email, PASSWORD)
    assert client.session["_auth_user_id"] == str(other.pk)


def test_hostile_markdown_is_neutralised():
    from commonguard.core.text import render_markdown

    html = render_markdown(
        "# Hi\n<script>alert(1)</script>\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> "
        "[ok](https://example.gov) <a href='https://evil' style='x'>y</a>"
    )
    assert "<script" not in html
    assert 'href="javascript' not in html
    assert "<img" not in html
    assert "<a href='https://evil'" not in html
    assert 'href="https://example.gov"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_stale_decision_is_refused(world, as_persona):
    """Two admins open the same request; the second decision gets a clear answer, not a second change."""
    membership = world.memberships["unvetted"]
    client = as_persona("ingham_admin")
    assert client.post(f"/api/v1/memberships/{membership.pk}/approve/").status_code == 200
    audit = AuditEvent.objects.count()
    response = client.post(f"/api/v1/memberships/{membership.pk}/decline/")
    assert response.status_code == 400
    assert "already approved" in str(response.json())
    membership.refresh_from_db()
    assert membership.status == "approved"
    assert AuditEvent.objects.count() == audit
