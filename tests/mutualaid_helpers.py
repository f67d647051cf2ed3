"""Building blocks for the mutual-aid tests: an active responder in one call, an agreement in force."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from commonguard.accounts.models import Role, User
from commonguard.mutualaid import services
from commonguard.mutualaid.models import Agreement, AssistanceRequest, Responder, ResponderPrivate
from commonguard.orgs.models import Organization

# County centroids for the world fixture's counties (roughly Mason and Ann Arbor).
INGHAM = (Decimal("42.6000"), Decimal("-84.3700"))
WASHTENAW = (Decimal("42.2500"), Decimal("-83.8400"))


def place_world(world: Any) -> None:
    """Give the world's organisations coordinates (counties carry their centroid)."""
    for org, (lat, lng) in ((world.ingham, INGHAM), (world.washtenaw, WASHTENAW), (world.lansing, INGHAM)):
        Organization.objects.filter(pk=org.pk).update(latitude=lat, longitude=lng)
        org.latitude, org.longitude = lat, lng
    Organization.objects.filter(pk=world.guard.pk).update(latitude=Decimal("42.73"), longitude=Decimal("-84.55"))
    world.guard.refresh_from_db()


def today() -> date:
    return timezone.localdate()


def make_responder(
    world: Any,
    *,
    name: str = "Rae Responder",
    user: User | None = None,
    skills: tuple[str, ...] = ("forensics", "ad-rebuild"),
    county: str = "26065",
    status: str = Responder.Status.ACTIVE,
    mode: str = Responder.WorkMode.EITHER,
    programme: Organization | None = None,
    coordinator: User | None = None,
    available: tuple[date, date] | None = None,
    credential_expires: date | None = None,
    phone: str = "+1 517 555 0142",
) -> Responder:
    """A responder walked through onboarding by the programme's coordinator up to `status`."""
    coord = coordinator or world["coordinator"]
    prog = programme or world.guard
    r = services.responder_create(
        actor=coord,
        data=services.ResponderInput(
            programme=prog,
            full_name=name,
            email=(user.email if user else f"{name.lower().replace(' ', '.')}@example.test"),
            source=Responder.Source.GUARD,
            home_county_fips=county,
            work_mode=mode,
            skills=list(skills),
            phone=phone,
            home_address="1 Main St, Mason MI",
            user_id=user.pk if user else None,
        ),
    )
    path = [
        Responder.Status.SCREENING,
        Responder.Status.BACKGROUND_CHECK,
        Responder.Status.AGREEMENT_SIGNED,
        Responder.Status.TRAINING,
        Responder.Status.ACTIVE,
    ]
    order = [Responder.Status.APPLIED, *path]
    target = order.index(status) if status in order else len(order) - 1
    for step in path[:target]:
        if step == Responder.Status.AGREEMENT_SIGNED:
            services.background_check_record(
                actor=coord, responder=r, result=ResponderPrivate.Result.CLEAR, checked_on=today()
            )
        if step == Responder.Status.ACTIVE:
            services.training_add(actor=coord, responder=r, name="ICS-100", completed_on=today())
            if credential_expires is not None:
                services.credential_add(actor=coord, responder=r, name="GCIH", expires_on=credential_expires)
        r = services.responder_transition(actor=coord, responder=r, to=step)
    if status in (Responder.Status.INACTIVE, Responder.Status.SEPARATED):
        r = services.responder_transition(actor=coord, responder=r, to=status)
    window = available or (today(), today() + timedelta(days=60))
    services.availability_add(actor=coord, responder=r, starts_on=window[0], ends_on=window[1])
    r.refresh_from_db()
    return r


def compact(world: Any, parties: list[Organization], *, name: str = "Michigan Cyber Mutual Aid Compact") -> Agreement:
    """A statewide compact kept by the state IT agency (its liaison records it), in force since last year."""
    liaison = world["liaison1"]
    agreement = services.agreement_create(
        actor=liaison,
        data=services.AgreementInput(
            name=name,
            kind=Agreement.Kind.STATEWIDE_COMPACT,
            administrator=world.state_it,
            effective_from=today() - timedelta(days=365),
            request_roles=[Role.ORG_ADMIN, Role.MEMBER],
            offer_roles=[Role.ORG_ADMIN, Role.COORDINATOR],
        ),
    )
    for org in parties:
        services.agreement_party_sign(
            actor=liaison,
            agreement=agreement,
            organization=org,
            signed_on=today() - timedelta(days=300),
            signed_by_name=f"Director of {org.name}",
        )
    services.agreement_set_status(actor=liaison, agreement=agreement, status=Agreement.Status.IN_FORCE)
    agreement.refresh_from_db()
    return agreement


def aid_request(
    world: Any,
    *,
    skills: tuple[str, ...] = ("forensics", "ad-rebuild"),
    mode: str = "either",
    days: int = 7,
    org: Organization | None = None,
    actor: User | None = None,
) -> AssistanceRequest:
    return services.request_create(
        actor=actor or world["ingham_admin"],
        data=services.RequestInput(
            requesting_org=org or world.ingham,
            title="Ransomware on the county network",
            description="File servers encrypted overnight; domain controllers suspect.",
            skills=list(skills),
            starts_on=today() + timedelta(days=1),
            duration_days=days,
            mode=mode,
        ),
    )


def without_csrf(content: bytes) -> str:
    """A page without its per-request CSRF token, to compare a hidden object's 404 with an absent one's."""
    import re

    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())
