"""Demo content for partnerships: a library, two initiatives, a liaison's log, events (one full, with
a waiting list) and an SLCGP programme with sub-awards. Idempotent: runs after seed_demo_people."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.partnerships import services
from commonguard.partnerships.models import (
    Engagement,
    Event,
    GrantProgram,
    Initiative,
    Registration,
    Resource,
    ResourceComment,
    SubAward,
    VolunteerOffer,
)

PLAYBOOK = b"""# Ransomware first hour

1. Isolate affected hosts from the network; do not power them off.
2. Call the state SOC hotline and open an incident in CommonGuard.
3. Preserve logs: firewall, VPN, domain controllers, EDR.
4. Check backups are offline and intact before any restore.
"""


def _admin_of(org: Organization) -> User | None:
    row = (
        Membership.objects.filter(organization=org, role=Role.ORG_ADMIN, status=Membership.Status.APPROVED)
        .select_related("user")
        .first()
    )
    return row.user if row else None


def seed_demo(state: Any) -> dict[str, int]:
    postal = state.postal
    state_it = Organization.objects.filter(source_key=f"demo:{postal}:state-it").first()
    liaison = User.objects.filter(email="liaison@demo.test").first()
    if state_it is None or liaison is None:
        return {}
    local_admins = list(
        Membership.objects.filter(
            role=Role.ORG_ADMIN,
            status=Membership.Status.APPROVED,
            organization__state=postal,
            organization__kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
        )
        .select_related("user", "organization")
        .order_by("organization__sort_name")
    )
    if len(local_admins) < 2:
        return {}
    home, neighbour = local_admins[0], local_admins[-1]
    counts = {
        "resources": _library(liaison, state_it, home, neighbour),
        "initiatives": _initiatives(liaison, state_it, [m.organization for m in local_admins]),
        "engagements": _engagements(liaison, postal),
        "events": _events(liaison, state_it, local_admins),
        "sub_awards": _grants(liaison, state_it, postal),
        "volunteer_offers": _volunteers(postal, home),
    }
    return counts


def _library(liaison: User, state_it: Organization, home: Membership, neighbour: Membership) -> int:
    specs: list[dict[str, Any]] = [
        dict(
            title="Ransomware first-hour playbook",
            kind=Resource.Kind.PLAYBOOK,
            summary="What to do in the **first hour** of a ransomware incident, in the order that matters.",
            author=liaison,
            org=state_it,
            tags=["ransomware", "incident response"],
            csf=["RS.MA", "RS.MI"],
            file=("ransomware-first-hour.md", PLAYBOOK),
        ),
        dict(
            title="Multi-factor authentication policy template",
            kind=Resource.Kind.TEMPLATE,
            summary="A policy template for requiring MFA on e-mail, VPN and remote administration.",
            author=liaison,
            org=state_it,
            tags=["mfa", "policy"],
            csf=["PR.AA"],
            url="https://www.cisa.gov/mfa",
        ),
        dict(
            title="Regional cooperative purchasing contract for EDR",
            kind=Resource.Kind.CONTRACT,
            summary="The state's cooperative contract any local government may buy endpoint detection under.",
            author=liaison,
            org=state_it,
            tags=["procurement", "edr"],
            csf=["DE.CM"],
            url="https://www.example.net/contracts/edr",
        ),
        dict(
            title=f"After-action report: {home.organization.name} phishing exercise",
            kind=Resource.Kind.AFTER_ACTION,
            summary="What went well and what we changed after our spring phishing exercise.",
            author=home.user,
            org=home.organization,
            tags=["phishing", "exercise"],
            csf=["PR.AT"],
            url="https://www.example.net/aar/phishing",
            tlp=TLP.AMBER,
            recipients=[neighbour.organization],
        ),
    ]
    made = 0
    for spec in specs:
        if Resource.objects.filter(title=spec["title"]).exists():
            continue
        upload = None
        if "file" in spec:
            name, body = spec["file"]
            upload = SimpleUploadedFile(name, body, content_type="text/markdown")
        resource = services.resource_create(
            actor=spec["author"],
            data=services.ResourceInput(
                title=spec["title"],
                kind=spec["kind"],
                summary=spec["summary"],
                author_org=spec["org"],
                tlp=spec.get("tlp", TLP.GREEN),
                url=spec.get("url", ""),
                tags=spec["tags"],
                csf_categories=spec["csf"],
                recipient_orgs=spec.get("recipients", []),
            ),
            upload=upload,
        )
        made += 1
        services.resource_mark_used(actor=home.user, resource=resource, organization=home.organization)
        if resource.tlp == TLP.GREEN:
            services.resource_mark_used(actor=neighbour.user, resource=resource, organization=neighbour.organization)
        if resource.kind == Resource.Kind.PLAYBOOK and not ResourceComment.objects.filter(resource=resource).exists():
            services.resource_comment_add(
                actor=home.user,
                resource=resource,
                organization=home.organization,
                body="We added step 2 to our own plan. *Tip:* print it and keep it by the server room.",
            )
    return made


def _initiatives(liaison: User, state_it: Organization, locals_: list[Organization]) -> int:
    today = timezone.localdate()
    made = 0
    if not Initiative.objects.filter(title="Regional security operations cooperative").exists():
        soc = services.initiative_create(
            actor=liaison,
            title="Regional security operations cooperative",
            description="Counties and cities share a 24/7 monitoring service run by the state SOC.",
            lead_org=state_it,
            status=Initiative.Status.ON_TRACK,
            partners=[(o, "Send firewall and EDR logs; name an after-hours contact.") for o in locals_],
            goals=["Every partner's logs reach the SOC", "Median time to triage under 30 minutes"],
        )
        services.milestone_add(
            actor=liaison,
            initiative=soc,
            title="Log forwarding agreement signed",
            owner_org=state_it,
            due_on=today - timedelta(days=30),
        )
        done = soc.milestones.get()
        services.milestone_complete(actor=liaison, milestone=done, done_on=today - timedelta(days=32))
        services.milestone_add(
            actor=liaison,
            initiative=soc,
            title="First partner's logs flowing",
            owner_org=locals_[0],
            due_on=today + timedelta(days=21),
        )
        services.progress_note_add(actor=liaison, initiative=soc, body="Agreement signed by all partners.")
        made += 1
    if not Initiative.objects.filter(title="Shared MFA procurement").exists():
        mfa = services.initiative_create(
            actor=liaison,
            title="Shared MFA procurement",
            description="One purchase of hardware keys and MFA licences for the smaller governments.",
            lead_org=state_it,
            status=Initiative.Status.AT_RISK,
            partners=[(locals_[-1], "Count the accounts that need keys.")],
            goals=["MFA on every e-mail account of the partners"],
        )
        services.milestone_add(
            actor=liaison,
            initiative=mfa,
            title="Account counts collected",
            owner_org=locals_[-1],
            due_on=today - timedelta(days=5),
        )
        services.progress_note_add(
            actor=liaison, initiative=mfa, body="Two partners have not sent their counts; the quote expires soon."
        )
        made += 1
    return made


def _engagements(liaison: User, postal: str) -> int:
    if Engagement.objects.filter(liaison=liaison).exists():
        return 0
    today = timezone.localdate()
    orgs = list(
        Organization.objects.filter(
            state=postal, status=Organization.Status.APPROVED, kind__in=["county", "city"], population__isnull=False
        ).order_by("-population")[:4]
    )
    kinds = [Engagement.Kind.VISIT, Engagement.Kind.CALL, Engagement.Kind.TABLETOP, Engagement.Kind.GRANT_HELP]
    for i, (org, kind) in enumerate(zip(orgs, kinds, strict=False)):
        services.engagement_log(
            actor=liaison,
            organization=org,
            kind=kind,
            occurred_on=today - timedelta(days=10 + 40 * i),
            summary=f"{kind.label} with the IT lead of {org.name}.",
            follow_up="Send the MFA policy template" if i == 0 else "",
            follow_up_due=today + timedelta(days=7) if i == 0 else None,
        )
    return len(orgs)


def _events(liaison: User, state_it: Organization, local_admins: list[Membership]) -> int:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    made = 0
    if not Event.objects.filter(title="State cybersecurity grant briefing").exists():
        services.event_create(
            actor=liaison,
            title="State cybersecurity grant briefing",
            kind=Event.Kind.BRIEFING,
            description="How to apply for this year's SLCGP sub-awards, and what the self-assessment asks.",
            starts_at=now + timedelta(days=7, hours=2),
            ends_at=now + timedelta(days=7, hours=3),
            location="Online (link sent to registrants)",
            capacity=100,
            organizer_org=state_it,
        )
        made += 1
    if not Event.objects.filter(title="Ransomware tabletop exercise").exists():
        tabletop = services.event_create(
            actor=liaison,
            title="Ransomware tabletop exercise",
            kind=Event.Kind.EXERCISE,
            description="A half-day exercise: a county's file servers are encrypted on a Friday evening.",
            starts_at=now + timedelta(days=14, hours=1),
            ends_at=now + timedelta(days=14, hours=5),
            location="State Emergency Operations Center",
            capacity=1,
            organizer_org=state_it,
        )
        for member in local_admins[:2]:
            if not Registration.objects.filter(event=tabletop, user=member.user).exists():
                services.event_register(actor=member.user, event=tabletop, organization=member.organization)
        made += 1
    return made


def _grants(liaison: User, state_it: Organization, postal: str) -> int:
    program = GrantProgram.objects.filter(state=postal, fiscal_year=2024).first()
    if program is None:
        program = services.grant_program_create(
            actor=liaison,
            name="State and Local Cybersecurity Grant Program",
            fiscal_year=2024,
            federal_award=Decimal("4000000.00"),
            cost_share_rate=Decimal("30"),
            administrator=state_it,
        )
    if SubAward.objects.filter(program=program).exists():
        return 0
    big = list(
        Organization.objects.filter(state=postal, kind="county", population__gte=50_000).order_by("-population")[:3]
    )
    small = list(
        Organization.objects.filter(state=postal, kind__in=["township", "village", "city"], population__lt=50_000)
        .exclude(population__isnull=True)
        .order_by("-population")[:4]
    )
    plans = [(o, Decimal("700000"), "Objective 1: governance and planning") for o in big] + [
        (o, Decimal("180000"), "Objective 3: assess vulnerabilities") for o in small
    ]
    for i, (org, amount, objective) in enumerate(plans):
        services.sub_award_save(
            actor=liaison,
            program=program,
            organization=org,
            amount=amount,
            match_amount=amount * Decimal("0.3") if i % 3 else amount * Decimal("0.2"),
            objective=objective,
            project="MFA roll-out and endpoint detection for all staff accounts.",
            status=SubAward.Status.ACTIVE if i < 5 else SubAward.Status.APPLIED,
            self_assessment_done=i % 2 == 0,
        )
    return len(plans)


def _volunteers(postal: str, home: Membership) -> int:
    if VolunteerOffer.objects.filter(state=postal).exists():
        return 0
    made = 0
    student = Membership.objects.filter(
        user__email="student@demo.test", organization__kind=Organization.Kind.UNIVERSITY, status="approved"
    ).first()
    if student is not None:
        services.volunteer_offer_create(
            actor=student.user,
            organization=student.organization,
            kind=VolunteerOffer.Kind.STUDENTS,
            title="Cybersecurity clinic: four students for vulnerability scanning",
            skills="vulnerability scanning, network inventory, report writing",
            hours_per_month=40,
        )
        made += 1
    responder = Membership.objects.filter(user__email="responder@demo.test", status="approved").first()
    if responder is not None:
        services.volunteer_offer_create(
            actor=responder.user,
            organization=responder.organization,
            kind=VolunteerOffer.Kind.EXPERTISE,
            title="Incident response tabletop facilitation",
            skills="tabletop exercises, incident response planning",
            hours_per_month=6,
        )
        made += 1
    services.local_need_create(
        actor=home.user,
        organization=home.organization,
        title="Scan our external network before the audit",
        description="We have never had an outside scan.",
        skills="vulnerability scanning",
    )
    return made
