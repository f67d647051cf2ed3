"""The vetting, contact and token flows, end to end through services and the API."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client

from commonguard.accounts import services
from commonguard.accounts.models import Membership, Role
from commonguard.accounts.viewer import viewer_for
from commonguard.core.models import AuditEvent
from commonguard.orgs.models import ContactAssignment, Organization
from commonguard.orgs.services import contact_assign, organization_approve, organization_request
from tests.factories import UserFactory


def test_join_request_then_approval_makes_a_person_vetted(world, as_persona):
    newcomer = UserFactory(email="new@example.test")
    assert not viewer_for(newcomer).is_vetted
    membership = services.membership_request(actor=newcomer, organization=world.washtenaw, message="IT staff")
    assert Organization.objects.visible_to(newcomer).count() == 1  # their own request only
    client = as_persona("washtenaw_admin")
    response = client.post(f"/api/v1/memberships/{membership.pk}/approve/", {"note": "welcome"})
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    newcomer = type(newcomer).objects.get(pk=newcomer.pk)  # a new request sees the new state
    assert viewer_for(newcomer).is_vetted
    assert Organization.objects.visible_to(newcomer).filter(status="approved").count() >= 5
    event = AuditEvent.objects.get(action="membership.approve")
    assert event.organization == world.washtenaw
    assert event.actor == world["washtenaw_admin"]


def test_liaison_vets_where_an_organisation_has_no_admin(world):
    member = services.membership_request(actor=UserFactory(), organization=world.lansing)
    with pytest.raises(Exception, match="liaison"):
        services.membership_approve(actor=world["washtenaw_admin"], membership=member)
    services.membership_approve(actor=world["liaison2"], membership=member)  # any liaison of the state
    member.refresh_from_db()
    assert member.status == "approved"
    # Ingham has an admin, so there the liaison may not decide.
    other = services.membership_request(actor=UserFactory(), organization=world.ingham)
    with pytest.raises(Exception, match="Only an admin"):
        services.membership_approve(actor=world["liaison1"], membership=other)


def test_nobody_vets_themselves(world):
    membership = services.membership_request(actor=world["ingham_admin"], organization=world.washtenaw)
    with pytest.raises(Exception, match="Only an admin"):
        services.membership_approve(actor=world["ingham_admin"], membership=membership)


def test_new_organisation_request_and_approval(world):
    requester = UserFactory()
    org = organization_request(
        actor=requester,
        name="Meridian Charter Township Library",
        kind="special_district",
        state="MI",
        county=world.ingham,
    )
    assert org.status == "pending"
    assert org.region == world.region1
    with pytest.raises(Exception, match="state liaison"):
        organization_approve(actor=world["ingham_admin"], organization=org)
    organization_approve(actor=world["liaison1"], organization=org)
    org.refresh_from_db()
    assert org.status == "approved"
    membership = Membership.objects.get(user=requester, organization=org)
    assert (membership.status, membership.role) == ("approved", Role.ORG_ADMIN)
    with pytest.raises(ValidationError, match="already in the directory"):
        organization_request(
            actor=UserFactory(),
            name="Meridian Charter Township Library",
            kind="special_district",
            state="MI",
            county=world.ingham,
        )


def test_contact_reassignment_keeps_history(world):
    new_cio = world["ingham_member"]
    contact_assign(actor=world["ingham_admin"], organization=world.ingham, role="cio", holder=new_cio)
    current = ContactAssignment.objects.get(organization=world.ingham, role="cio", ended_at__isnull=True)
    assert current.holder == new_cio
    holders = list(
        ContactAssignment.objects.filter(organization=world.ingham, role="cio").values_list("holder__email", flat=True)
    )
    assert set(holders) == {"ingham_member@example.test", "ingham_admin@example.test", "removed_member@example.test"}
    with pytest.raises(ValidationError, match="not an approved member"):
        contact_assign(
            actor=world["ingham_admin"], organization=world.ingham, role="ciso", holder=world["washtenaw_member"]
        )


def test_last_admin_cannot_leave(world):
    with pytest.raises(ValidationError, match="last admin"):
        services.membership_remove(actor=world["ingham_admin"], membership=world.memberships["ingham_admin"])


def test_removed_member_loses_access_and_history_stays(world):
    services.membership_remove(actor=world["ingham_admin"], membership=world.memberships["ingham_member"])
    member = type(world["ingham_member"]).objects.get(pk=world["ingham_member"].pk)
    assert not viewer_for(member).is_vetted
    # Their after-hours role is still on record until reassigned.
    assert ContactAssignment.objects.filter(holder=member, role="after_hours").exists()


def test_token_authentication_basic_and_bearer(world):
    user = world["ingham_member"]
    token, secret = services.token_create(actor=user, name="firewall")
    assert token.key_hash != secret and secret.startswith("cg_")
    client = Client()
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["email"] == user.email
    basic = base64.b64encode(f"anyone:{secret}".encode()).decode()
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Basic {basic}").json()["email"] == user.email
    token.refresh_from_db()
    assert token.last_used_at is not None
    # A token cannot mint tokens.
    response = client.post(
        "/api/v1/tokens/", {"name": "x"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 403


def test_audit_trail_is_append_only_in_the_database(world):
    event = AuditEvent.objects.create(kind="write", action="x", summary="y")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    table = AuditEvent._meta.db_table
    for sql in [f"UPDATE {table} SET summary = 'z'", f"DELETE FROM {table}"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).summary == "y"


def test_sign_in_is_audited(world):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    client.post(
        "/accounts/login/", {"username": "ingham_member@example.test", "password": "correct horse battery staple"}
    )
    assert AuditEvent.objects.filter(action="sign_in.password", actor=world["ingham_member"]).count() == 1


def test_mfa_required_roles_must_enrol(world):
    from commonguard.accounts.middleware import mfa_step_needed  # noqa: F401 - the rule under test

    client = Client()
    client.force_login(world["liaison1"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/organizations/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/setup/")
    assert client.get("/api/v1/me/").status_code == 401
    # A member without a device is not asked.
    client.force_login(world["ingham_member"], backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/organizations/").status_code == 200


def test_mfa_enrolment_gives_recovery_codes_that_work_once(world):
    from django_otp.oath import totp

    user = world["liaison1"]
    device = services.mfa_totp_begin(actor=user)
    codes = services.mfa_totp_confirm(actor=user, device=device, token=f"{totp(device.bin_key):06d}")
    assert len(codes) == 10
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post("/accounts/mfa/verify/", {"token": codes[0]})["Location"] == "/"
    other = Client()
    other.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = other.post("/accounts/mfa/verify/", {"token": codes[0]})
    assert response.status_code == 200  # used up
    with pytest.raises(ValidationError, match="requires two-step"):
        services.mfa_disable(actor=user)


def test_api_error_format_and_pagination(world, as_persona):
    client = as_persona("ingham_member")
    body = client.get("/api/v1/organizations/987654/").json()
    assert (
        body == {"error": {"code": "not_found", "message": "No Organization matches the given query."}}
        or body["error"]["code"] == "not_found"
    )
    page = client.get("/api/v1/organizations/", {"page_size": 2}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert len(page["results"]) == 2 and page["next"]
    bad = client.post("/api/v1/memberships/", {"organization": "x"}, content_type="application/json").json()
    assert bad["error"]["code"] == "invalid"
    assert "organization" in bad["error"]["fields"]


def test_openapi_schema_lists_the_api(world, as_persona):
    schema = as_persona("ingham_member").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in [
        "/api/v1/organizations/",
        "/api/v1/memberships/",
        "/api/v1/contacts/",
        "/api/v1/audit/",
        "/api/v1/tokens/",
        "/api/v1/roles/",
    ]:
        assert path in schema["paths"]


def test_directory_search_by_words_and_fips(world, as_persona):
    from commonguard.orgs.selectors import organization_list

    user = world["ingham_member"]
    assert [o.name for o in organization_list(user=user, q="26065")] == ["Ingham County"]
    assert [o.name for o in organization_list(user=user, q="2646000")] == ["City of Lansing"]
    assert [o.name for o in organization_list(user=user, q="99999")] == []
    assert [o.name for o in organization_list(user=user, q="county ingham")] == ["Ingham County"]
    assert [o.name for o in organization_list(user=user, q="ingham", kind="special_district")] == []
    # The pending organisation exists but is not visible to this member, even by exact name.
    assert [o.name for o in organization_list(user=user, q="drain")] == []
    assert [o.name for o in organization_list(user=world["liaison1"], q="drain")] == ["Ingham Drain District"]
    page = as_persona("ingham_member").get("/organizations/", {"q": "lansing"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert "City of Lansing" in page.content.decode() and "<html" not in page.content.decode()


def test_liaisons_edit_regions_and_move_organisations(world, as_persona):
    from commonguard.orgs.models import Region

    client = as_persona("liaison1")
    page = client.get("/organizations/regions/")
    assert page.status_code == 200 and "Region 2" in page.content.decode()
    response = client.post(
        f"/organizations/regions/{world.region2.pk}/",
        {f"r{world.region2.pk}-name": "Southeast", f"r{world.region2.pk}-liaison": world["liaison1"].pk},
    )
    assert response.status_code == 302
    region = Region.objects.get(pk=world.region2.pk)
    assert (region.name, region.liaison) == ("Southeast", world["liaison1"])
    client.post(f"/organizations/{world.lansing.pk}/region/", {"region": world.region2.pk})
    world.lansing.refresh_from_db()
    assert world.lansing.region == world.region2
    assert AuditEvent.objects.filter(action="organization.set_region", organization=world.lansing).exists()
    # A liaison cannot be anyone: the analyst is refused, nothing changes.
    client.post(
        f"/organizations/regions/{world.region2.pk}/",
        {f"r{world.region2.pk}-name": "Elsewhere", f"r{world.region2.pk}-liaison": world["analyst"].pk},
    )
    assert Region.objects.get(pk=world.region2.pk).name == "Southeast"


def test_only_liaisons_change_regions(world, as_persona):
    from commonguard.orgs.models import Region

    for persona in ["ingham_admin", "analyst", "ingham_member"]:
        client = as_persona(persona)
        assert "Edit" not in client.get("/organizations/regions/").content.decode()
        client.post(f"/organizations/regions/{world.region1.pk}/", {f"r{world.region1.pk}-name": "Hacked"})
        client.post(f"/organizations/{world.ingham.pk}/region/", {"region": world.region2.pk})
    assert Region.objects.get(pk=world.region1.pk).name == "Region 1"
    world.ingham.refresh_from_db()
    assert world.ingham.region == world.region1
