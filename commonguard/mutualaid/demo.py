"""Mutual-aid demo content (idempotent): a statewide compact and a bilateral agreement, a roster of
fictional responders in the Guard unit, the volunteer corps and the university (Rita Responder,
responder@demo.test, among them), a Guard team package from the FEMA template, and one open
request from the demo county. Called by `commonguard demo` after the demo people."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.accounts.viewer import forget_viewer
from commonguard.mutualaid import services
from commonguard.mutualaid.models import Agreement, AssistanceRequest, Deployment, Responder, TeamPackage
from commonguard.orgs.models import Organization
from commonguard.orgs.states import State

COMPACT = "Statewide Cyber Mutual Aid Compact (demo)"
FIRST_REQUEST = "Ransomware at the county clerk's office (demo)"
FIRST = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Parker", "Reese"]
LAST = ["Nguyen", "Okafor", "Kowalski", "Haddad", "Lindqvist", "Moreno", "Baptiste", "Yamada", "Brennan", "Osei"]
SKILL_SETS = [
    ("forensics", "malware-analysis", "threat-hunting"),
    ("ransomware-recovery", "backup-restore", "ad-rebuild"),
    ("ad-rebuild", "identity", "cloud"),
    ("network", "ot-ics"),
    ("email", "cloud", "identity"),
    ("pio", "incident-command"),
    ("legal",),
    ("endpoint", "threat-hunting", "forensics"),
]


@transaction.atomic
def seed_demo(state: State) -> int:
    """Seed once; a second run changes nothing. Returns the number of responders on the roster."""
    if Agreement.objects.filter(name=COMPACT).exists():
        seed_offers(state)
        seed_claims_demo(state)
        return Responder.objects.count()
    key = f"demo:{state.postal}:"
    hub = {k: Organization.objects.get(source_key=key + k) for k in ("state-it", "guard", "corps", "university")}
    liaison = User.objects.get(email="liaison@demo.test")
    coordinator = User.objects.get(email="coordinator@demo.test")
    county_admin = (
        Membership.objects.filter(user__email__startswith="admin.", role=Role.ORG_ADMIN, organization__kind="county")
        .exclude(user__email="admin.neighbour@demo.test")
        .select_related("organization", "user")
        .first()
    )
    neighbour_admin = (
        Membership.objects.filter(user__email="admin.neighbour@demo.test")
        .select_related("organization", "user")
        .first()
    )
    if county_admin is None or neighbour_admin is None:
        return 0
    home, neighbour = county_admin.organization, neighbour_admin.organization
    # The demo coordinator keeps the rosters of the corps and the university too.
    for org in (hub["corps"], hub["university"]):
        Membership.objects.get_or_create(
            user=coordinator,
            organization=org,
            status=Membership.Status.APPROVED,
            defaults={"role": Role.COORDINATOR, "decided_at": timezone.now(), "message": "Demo person"},
        )
    forget_viewer(coordinator)
    today = timezone.localdate()
    # Hub organisations sit at the capital's county centroid (for distances).
    if home.latitude is not None:
        Organization.objects.filter(pk__in=[o.pk for o in hub.values()], latitude__isnull=True).update(
            latitude=home.latitude, longitude=home.longitude
        )
    counties = list(
        Organization.objects.filter(state=state.postal, kind="county", latitude__isnull=False).exclude(
            pk__in=[home.pk, neighbour.pk]
        )
    )
    rng = random.Random(f"mutualaid-demo-{state.postal}")  # noqa: S311 - demo dates, not secrets
    nearby = sorted(
        counties,
        key=lambda c: (
            (float(c.latitude or 0) - float(home.latitude or 0)) ** 2
            + (float(c.longitude or 0) - float(home.longitude or 0)) ** 2
        ),
    )[:6]

    compact = services.agreement_create(
        actor=liaison,
        data=services.AgreementInput(
            name=COMPACT,
            kind=Agreement.Kind.STATEWIDE_COMPACT,
            administrator=hub["state-it"],
            effective_from=today - timedelta(days=400),
            legal_basis="Intergovernmental agreement under the state's emergency management act (demo text).",
            liability_terms="Each party keeps liability for its own personnel; responders act under the requester's "
            "operational control and their home agency's command.",
            workers_comp_terms="The providing party's workers' compensation covers its personnel.",
            reimbursement_terms="Reasonable, mission-related, documented costs in five categories; the requester "
            "reimburses within 60 days of a complete claim; a party may waive.",
            data_handling_terms="Responders follow the requester's data classification; CJIS and HIPAA data only with "
            "the requester's written approval; no copies leave the requester's systems.",
            request_roles=[Role.ORG_ADMIN, Role.MEMBER],
            offer_roles=[Role.ORG_ADMIN, Role.COORDINATOR],
        ),
    )
    for org in [home, neighbour, hub["guard"], hub["corps"], hub["university"], *nearby]:
        services.agreement_party_sign(
            actor=liaison,
            agreement=compact,
            organization=org,
            signed_on=today - timedelta(days=rng.randint(30, 380)),
            signed_by_name=f"Authorised official of {org.name}",
        )
    services.agreement_set_status(actor=liaison, agreement=compact, status=Agreement.Status.IN_FORCE)

    bilateral = services.agreement_create(
        actor=county_admin.user,
        data=services.AgreementInput(
            name=f"{home.name} – {neighbour.name} IT mutual aid (demo)",
            kind=Agreement.Kind.BILATERAL,
            administrator=home,
            effective_from=today - timedelta(days=200),
            effective_to=today + timedelta(days=900),
            reimbursement_terms="Donated: neither party invoices the other for the first 5 days.",
            per_diem_basis=Agreement.PerDiem.NONE,
            request_roles=[Role.ORG_ADMIN],
            offer_roles=[Role.ORG_ADMIN],
        ),
    )
    for org in (home, neighbour):
        services.agreement_party_sign(
            actor=county_admin.user,
            agreement=bilateral,
            organization=org,
            signed_on=today - timedelta(days=190),
            signed_by_name=f"IT Director of {org.name}",
        )
    services.agreement_set_status(actor=county_admin.user, agreement=bilateral, status=Agreement.Status.IN_FORCE)

    places = [home, neighbour, *nearby]
    programmes = [
        (hub["guard"], Responder.Source.GUARD),
        (hub["corps"], Responder.Source.VOLUNTEER_CORPS),
        (hub["university"], Responder.Source.UNIVERSITY),
    ]
    roster: list[Responder] = []
    rita = User.objects.filter(email="responder@demo.test").first()
    for i in range(18):
        programme, source = programmes[i % 3]
        name = "Rita Responder" if i == 1 and rita else f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
        county = places[i % len(places)]
        responder = services.responder_create(
            actor=coordinator,
            data=services.ResponderInput(
                programme=programme,
                full_name=name,
                email=rita.email if (i == 1 and rita) else f"{name.lower().replace(' ', '.')}@demo.test",
                source=source,
                home_county_fips=county.county_fips,
                work_mode=[Responder.WorkMode.EITHER, Responder.WorkMode.REMOTE, Responder.WorkMode.ONSITE][i % 3],
                skills=list(SKILL_SETS[i % len(SKILL_SETS)]),
                phone=f"+1 517 555 01{i:02d}",
                home_address=f"{100 + i} Demo Street, {county.name}",
                user_id=rita.pk if (i == 1 and rita) else None,
            ),
        )
        stop = [
            Responder.Status.SCREENING,
            Responder.Status.BACKGROUND_CHECK,
            Responder.Status.AGREEMENT_SIGNED,
            Responder.Status.TRAINING,
            Responder.Status.ACTIVE,
        ]
        steps = stop if i < 14 else stop[: i - 13]  # the last four are still onboarding
        for step in steps:
            if step == Responder.Status.AGREEMENT_SIGNED:
                services.background_check_record(
                    actor=coordinator, responder=responder, result="clear", checked_on=today - timedelta(days=60)
                )
            if step == Responder.Status.ACTIVE:
                services.training_add(
                    actor=coordinator,
                    responder=responder,
                    name="ICS-100 and the programme's deployment course",
                    completed_on=today - timedelta(days=45),
                )
                services.credential_add(
                    actor=coordinator,
                    responder=responder,
                    name=["GIAC GCIH", "GIAC GCFA", "CISSP", "CompTIA Security+"][i % 4],
                    issuer="GIAC" if i % 4 < 2 else "ISC2/CompTIA",
                    expires_on=today + timedelta(days=20 if i == 4 else 400 + 30 * i),
                )
            responder = services.responder_transition(actor=coordinator, responder=responder, to=step)
        services.availability_add(
            actor=coordinator,
            responder=responder,
            starts_on=today - timedelta(days=5),
            ends_on=today + timedelta(days=[90, 10, 45][i % 3]),
        )
        roster.append(responder)
    services.responder_set_conflicts(actor=coordinator, responder=roster[7], organizations=[home])

    template = TeamPackage.objects.filter(is_template=True).first()
    if template is not None:
        team = services.team_from_template(
            actor=coordinator,
            template=template,
            provider=hub["guard"],
            name="Guard Cyber Incident Response Team (demo)",
        )
        TeamPackage.objects.filter(pk=team.pk).update(
            status=TeamPackage.Status.ACTIVE,
            cost_personnel=48000,
            cost_travel=6500,
            cost_equipment=3000,
            cost_commodities=800,
            cost_other=500,
        )
        for responder in roster[0:12:3]:
            services.team_add_member(actor=coordinator, team=team, responder=responder, role="Incident responder")

    if not AssistanceRequest.objects.filter(requesting_org=home).exists():
        services.request_create(
            actor=county_admin.user,
            data=services.RequestInput(
                requesting_org=home,
                title=FIRST_REQUEST,
                description="Files on the clerk's file server were encrypted overnight. Two domain controllers "
                "show the same service account logging on at 03:00. We need forensic triage and help to rebuild "
                "Active Directory before the election canvass on Friday.",
                skills=["forensics", "ad-rebuild", "ransomware-recovery", "backup-restore"],
                starts_on=today + timedelta(days=1),
                duration_days=7,
                mode=AssistanceRequest.Mode.EITHER,
                headcount=3,
                support_provided="Workspace in the county building, VPN accounts, meals.",
                safety_notes="Evidence handling: the sheriff's office holds the chain of custody. No CJIS access.",
            ),
        )
    seed_offers(state)
    seed_claims_demo(state)
    return len(roster)


def seed_offers(state: State) -> None:
    """On the demo request: the Guard's offer, countered by the county, accepted and signed by both
    sides (a binding agreement and mission orders); and the volunteer corps' offer, still open.
    Idempotent: nothing is added once the request has offers."""
    from decimal import Decimal

    from commonguard.mutualaid import offers
    from commonguard.mutualaid.models import Offer

    aid = AssistanceRequest.objects.filter(title=FIRST_REQUEST).select_related("requesting_org").first()
    if aid is None or Offer.objects.filter(request=aid).exists():
        return
    key = f"demo:{state.postal}:"
    guard = Organization.objects.filter(source_key=key + "guard").first()
    corps = Organization.objects.filter(source_key=key + "corps").first()
    coordinator = User.objects.filter(email="coordinator@demo.test").first()
    if guard is None or corps is None or coordinator is None:
        return
    admin = Membership.objects.filter(
        organization=aid.requesting_org, role=Role.ORG_ADMIN, status=Membership.Status.APPROVED
    ).first()
    if admin is None:
        return

    def pick(programme: Organization, count: int) -> list[tuple[Responder, str]]:
        free = [
            r
            for r in Responder.objects.filter(programme=programme, status=Responder.Status.ACTIVE).exclude(
                conflicts=aid.requesting_org
            )
            if not r.credentials.filter(expires_on__lte=aid.ends_on).exists()
            and not r.deployments.filter(status__in=["proposed", *Deployment.HOLDING]).exists()
        ]
        return [(r, role) for r, role in zip(free, ["Forensic lead", "AD engineer", "Recovery"], strict=False)][:count]

    costs = {"personnel": Decimal(14400), "travel": Decimal(900), "equipment": Decimal(600), "other": Decimal(150)}
    offer = offers.offer_create(
        actor=coordinator,
        data=offers.OfferInput(
            request=aid,
            offering_org=guard,
            terms=offers.Terms(aid.starts_on, aid.ends_on, aid.mode, costs, "Two responders, 12-hour shifts."),
            responders=pick(guard, 2),
        ),
    )
    offers.offer_counter(
        actor=admin.user,
        offer=offer,
        terms=offers.Terms(
            aid.starts_on,
            aid.starts_on + timedelta(days=4),
            aid.mode,
            {**costs, "personnel": Decimal(10300), "travel": Decimal(600)},
            "Five days: the canvass is on Friday.",
        ),
        note="Five days will do; we provide lodging.",
    )
    offers.offer_accept_terms(actor=coordinator, offer=offer)
    offers.offer_sign(actor=coordinator, offer=offer, typed_name=coordinator.full_name, title="Guard cyber coordinator")
    offers.offer_sign(actor=admin.user, offer=offer, typed_name=admin.user.full_name, title="IT Director")
    corps_team = pick(corps, 1)
    if corps_team:
        offers.offer_create(
            actor=coordinator,
            data=offers.OfferInput(
                request=aid,
                offering_org=corps,
                terms=offers.Terms(aid.starts_on, aid.ends_on, "remote", {"personnel": Decimal(0)}, "Donated."),
                responders=corps_team,
            ),
        )


CLAIMS_REQUEST = "Business email compromise at the county treasurer (demo)"


@transaction.atomic
def seed_claims_demo(state: State) -> None:
    """The end of the chain (ADR 33), idempotent: rates on the compact, a request under way with Rita
    Responder deployed and logging, a second responder released with a submitted claim, and an
    after-action report. Shown on the dashboard and the deployments' pages."""
    from decimal import Decimal

    from commonguard.mutualaid import claims
    from commonguard.mutualaid.models import AgreementRates, Deployment

    if AssistanceRequest.objects.filter(title=CLAIMS_REQUEST).exists():
        return
    compact = Agreement.objects.filter(name=COMPACT).first()
    first = AssistanceRequest.objects.filter(title=FIRST_REQUEST).select_related("requesting_org").first()
    coordinator = User.objects.filter(email="coordinator@demo.test").first()
    if compact is None or first is None or coordinator is None:
        return
    AgreementRates.objects.get_or_create(
        agreement=compact, defaults={"personnel_hourly": Decimal("85.00"), "per_diem_daily": Decimal("59.00")}
    )
    home = first.requesting_org
    admin = first.created_by
    today = timezone.localdate()
    aid = services.request_create(
        actor=admin,
        data=services.RequestInput(
            requesting_org=home,
            title=CLAIMS_REQUEST,
            description="A vendor's mailbox was taken over and sent the treasurer new bank details. We need help to "
            "scope the mailbox rules, reset the tenant's sessions and check the payment runs.",
            skills=["email", "identity", "forensics"],
            starts_on=today,
            duration_days=14,
            headcount=2,
        ),
    )
    AssistanceRequest.objects.filter(pk=aid.pk).update(
        starts_on=today - timedelta(days=9), status=AssistanceRequest.Status.FILLED
    )
    active = list(
        Responder.objects.filter(status=Responder.Status.ACTIVE, programme__responders__isnull=False).distinct()
    )
    rita = next((r for r in active if r.email == "responder@demo.test"), None)
    other = next((r for r in active if r != rita and not r.conflicts.filter(pk=home.pk).exists()), None)
    if rita is None or other is None:
        return
    under_way = Deployment.objects.create(
        request=aid,
        responder=rita,
        status=Deployment.Status.ACTIVE,
        starts_on=today - timedelta(days=4),
        ends_on=today + timedelta(days=3),
    )
    done = Deployment.objects.create(
        request=aid,
        responder=other,
        status=Deployment.Status.ACTIVE,
        starts_on=today - timedelta(days=9),
        ends_on=today - timedelta(days=2),
    )
    for deployment, days in ((under_way, range(4, 0, -1)), (done, range(9, 2, -1))):
        for n, back in enumerate(days):
            day = today - timedelta(days=back)
            claims.time_log(
                actor=coordinator,
                deployment=deployment,
                day=day,
                hours=Decimal(["8", "10.5", "9", "6.5"][n % 4]),
                activity=["triage", "forensics", "containment", "recovery", "reporting"][n % 5],
            )
        claims.expense_log(
            actor=coordinator,
            deployment=deployment,
            day=deployment.starts_on,
            category="travel",
            amount=Decimal("214.60"),
            description="Mileage to the county building and back (demo)",
        )
    claims.expense_log(
        actor=coordinator,
        deployment=done,
        day=done.starts_on + timedelta(days=1),
        category="equipment",
        amount=Decimal("89.99"),
        description="Write blocker (demo)",
    )
    claims.release(
        actor=coordinator,
        deployment=done,
        access_removed=True,
        equipment_returned=True,
        handover_notes="Mailbox rules removed, sessions revoked, MFA enforced for finance. Open: the vendor's own "
        "investigation; the treasurer's office holds the evidence export.",
    )
    claim = claims.claim_assemble(actor=coordinator, deployment=done)
    claims.claim_transition(actor=coordinator, claim=claim, to="submitted")
    claims.claim_assemble(actor=coordinator, deployment=under_way)
    claims.aar_create(
        actor=admin,
        request=aid,
        data=claims.AfterActionInput(
            title=f"After-action report: {CLAIMS_REQUEST}",
            timeline=claims.aar_template(aid)["timeline"],
            what_worked="A responder was on the tenant within four hours; the compact's terms needed no negotiation.",
            what_to_change="Keep a break-glass admin account ready for responders; agree payment-run checks with "
            "the bank in advance.",
            deployment=done,
        ),
    )
