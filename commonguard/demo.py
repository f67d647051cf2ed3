"""The demo state: the real directory plus the hub's own organisations and one person per role.

Used only by `commonguard demo`. Demo people are fictional; their e-mail addresses use the
reserved `.test` domain. Privileged demo people have a TOTP device whose secret is derived from
the demo's SECRET_KEY, so `commonguard demo_totp EMAIL` can print the current code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from commonguard.accounts.models import Membership, Role, User
from commonguard.orgs.models import ContactAssignment, Organization, Region
from commonguard.orgs.states import State

DEMO_PASSWORD = "commonguard-demo"  # noqa: S105 - the published password of fictional demo people

_MI_NAMES = {
    "state-it": "Michigan Department of Technology, Management and Budget",
    "guard": "Michigan National Guard Cyber Unit (demo)",
    "corps": "Michigan Cyber Civilian Corps (demo)",
    "university": "Michigan State University (demo)",
}


def _hub_org_names(state: State) -> dict[str, str]:
    if state.postal == "MI":
        return _MI_NAMES
    return {
        "state-it": f"{state.name} State IT Agency (demo)",
        "guard": f"{state.name} National Guard Cyber Unit (demo)",
        "corps": f"{state.name} Volunteer Cyber Corps (demo)",
        "university": f"University of {state.name} (demo)",
    }


_HUB_KINDS = {
    "state-it": Organization.Kind.STATE_AGENCY,
    "guard": Organization.Kind.GUARD_UNIT,
    "corps": Organization.Kind.VOLUNTEER_CORPS,
    "university": Organization.Kind.UNIVERSITY,
}


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    title: str
    org: str  # a hub org key, or "county:<FIPS>" / "place:<FIPS7>"
    role: str
    status: str = Membership.Status.APPROVED
    operator: bool = False


def demo_people(state: State) -> list[DemoPerson]:
    """One person per role. Local governments: the state's largest county and its largest city."""
    county = Organization.objects.filter(state=state.postal, kind="county").order_by("-population").first()
    second = Organization.objects.filter(state=state.postal, kind="county").order_by("-population")[1:2].first()
    # Michigan's demo sits in Ingham County (Lansing), the capital's county.
    ingham = Organization.objects.filter(county_fips="26065", kind="county").first() if state.postal == "MI" else None
    home = ingham or county
    assert home is not None and second is not None, "seed the directory first"
    city = Organization.objects.filter(county=home, kind="city").order_by("-population").first() or home
    home_key, city_key, second_key = f"id:{home.pk}", f"id:{city.pk}", f"id:{second.pk}"
    short = home.name.split(" ")[0].lower()
    return [
        DemoPerson("operator@demo.test", "Olivia Operator", "Hub operator", "state-it", Role.MEMBER, operator=True),
        DemoPerson("liaison@demo.test", "Lena Liaison", "Local government liaison", "state-it", Role.STATE_LIAISON),
        DemoPerson("liaison2@demo.test", "Luis Liaison", "Local government liaison", "state-it", Role.STATE_LIAISON),
        DemoPerson("analyst@demo.test", "Ana Analyst", "SOC analyst", "state-it", Role.ANALYST),
        DemoPerson(f"admin.{short}@demo.test", "Adam Admin", "IT Director", home_key, Role.ORG_ADMIN),
        DemoPerson(f"it.{short}@demo.test", "Mia Member", "Systems administrator", home_key, Role.MEMBER),
        DemoPerson(f"official.{short}@demo.test", "Omar Official", "County commissioner", home_key, Role.OFFICIAL),
        DemoPerson("it.city@demo.test", "Carla City", "IT manager", city_key, Role.ORG_ADMIN),
        DemoPerson("admin.neighbour@demo.test", "Nora Neighbour", "CIO", second_key, Role.ORG_ADMIN),
        DemoPerson("coordinator@demo.test", "Cole Coordinator", "Cyber unit coordinator", "guard", Role.COORDINATOR),
        DemoPerson("responder@demo.test", "Rita Responder", "Volunteer incident responder", "corps", Role.RESPONDER),
        DemoPerson("student@demo.test", "Sam Student", "Student intern", "university", Role.MEMBER),
        DemoPerson(
            "pending@demo.test",
            "Pat Pending",
            "Network administrator",
            home_key,
            Role.MEMBER,
            status=Membership.Status.PENDING,
        ),
        # Asks the state to add an organisation the directory does not have yet.
        DemoPerson(
            "newcomer@demo.test",
            "Nia Newcomer",
            "IT coordinator",
            "pending-org",
            Role.ORG_ADMIN,
            status=Membership.Status.PENDING,
        ),
    ]


def demo_totp_key(email: str) -> str:
    """The demo TOTP secret (hex) of a demo person: derived, so it survives re-seeding."""
    return hmac.new(settings.SECRET_KEY.encode(), f"demo-totp:{email}".encode(), hashlib.sha256).hexdigest()[:40]


def demo_totp_base32(email: str) -> str:
    return base64.b32encode(bytes.fromhex(demo_totp_key(email))).decode("ascii").rstrip("=")


@transaction.atomic
def seed_demo_people(state: State) -> list[DemoPerson]:
    from commonguard.accounts.services import mfa_required

    names = _hub_org_names(state)
    hub_orgs: dict[str, Organization] = {}
    for key, name in names.items():
        org, _ = Organization.objects.update_or_create(
            source_key=f"demo:{state.postal}:{key}",
            defaults={
                "name": name,
                "kind": _HUB_KINDS[key],
                "state": state.postal,
                "status": Organization.Status.APPROVED,
                "time_zone": state.time_zone,
            },
        )
        hub_orgs[key] = org

    people = demo_people(state)
    now = timezone.now()
    # A new organisation waiting for a liaison's approval, so the approvals queue is not empty.
    home = Organization.objects.get(pk=int(people[4].org[3:]))
    hub_orgs["pending-org"], _ = Organization.objects.get_or_create(
        source_key=f"demo:{state.postal}:pending-org",
        defaults={
            "name": f"{home.name} Drain Commission (demo)",
            "kind": Organization.Kind.SPECIAL_DISTRICT,
            "state": state.postal,
            "status": Organization.Status.PENDING,
            "county": home,
            "county_fips": home.county_fips,
            "region": home.region,
            "time_zone": home.time_zone,
        },
    )
    for person in people:
        user, created = User.objects.get_or_create(
            email=person.email,
            defaults={
                "full_name": person.full_name,
                "title": person.title,
                "is_superuser": person.operator,
                "is_staff": person.operator,
                "phone": "+1 517 555 0100",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        org = hub_orgs[person.org] if person.org in hub_orgs else Organization.objects.get(pk=int(person.org[3:]))
        Membership.objects.get_or_create(
            user=user,
            organization=org,
            status=person.status,
            defaults={
                "role": person.role,
                "decided_at": now if person.status == "approved" else None,
                "message": "Demo person",
            },
        )
        if person.org == "pending-org" and hub_orgs["pending-org"].requested_by_id is None:
            Organization.objects.filter(pk=org.pk).update(requested_by=user)
        if mfa_required(user):
            TOTPDevice.objects.get_or_create(
                user=user, name="Demo authenticator", defaults={"key": demo_totp_key(user.email), "confirmed": True}
            )

    liaisons = list(User.objects.filter(email__in=["liaison@demo.test", "liaison2@demo.test"]).order_by("email"))
    regions = list(Region.objects.filter(state=state.postal, liaison__isnull=True))
    for i, region in enumerate(regions):
        region.liaison = liaisons[0] if i < (len(regions) + 1) // 2 else liaisons[1]
        region.save(update_fields=["liaison"])

    home_admin = User.objects.get(email=people[4].email)
    home_member = User.objects.get(email=people[5].email)
    for role, holder in [
        (ContactAssignment.Role.CIO, home_admin),
        (ContactAssignment.Role.INCIDENT_REPORTER, home_admin),
        (ContactAssignment.Role.AFTER_HOURS, home_member),
    ]:
        if not ContactAssignment.objects.filter(organization=home, role=role).exists():
            ContactAssignment.objects.create(
                organization=home, role=role, holder=holder, started_at=now, phone=holder.phone
            )
    return people


def _shared_lines(path: Path, count: int, *, want_ip: bool) -> list[str]:
    """The first `count` domains (or IPv4 addresses) of a shared blocklist file, if it is there."""
    if not path.exists():
        return []
    picked: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            value = line.strip()
            if not value or value.startswith(("!", "#")) or "/" in value:
                continue
            is_ip = value.replace(".", "").isdigit()
            if is_ip == want_ip:
                picked.append(value)
            if len(picked) == count:
                break
    return picked


@transaction.atomic
def seed_demo_alerts(state: State, shared_data: Path) -> int:
    """Two published alerts so the feed is not empty: real indicators from URLhaus and ThreatFox
    when ../shared/data is there, fictional .example values when not. (The KEV catalogue is
    imported by `kev_import`, which the demo command runs.)"""
    from commonguard.core.tlp import TLP
    from commonguard.sharing.models import Alert
    from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft

    people = {p.email: p for p in demo_people(state)}
    admin_email = next(
        e for e, p in people.items() if p.role == Role.ORG_ADMIN and e.startswith("admin.") and "neighbour" not in e
    )
    home_admin = User.objects.get(email=admin_email)
    neighbour_admin = User.objects.get(email="admin.neighbour@demo.test")
    home = Organization.objects.get(pk=int(people[admin_email].org[3:]))
    neighbour = Organization.objects.get(pk=int(people["admin.neighbour@demo.test"].org[3:]))
    state_it = Organization.objects.get(source_key=f"demo:{state.postal}:state-it")

    domains = _shared_lines(shared_data / "indicators" / "urlhaus-filter.txt", 4, want_ip=False) or [
        "invoice-county-payroll.example",
        "payroll-portal-login.example",
    ]
    ips = _shared_lines(shared_data / "indicators" / "threatfox-ips.txt", 3, want_ip=True) or ["192.0.2.44"]

    specs = [
        (
            home_admin,
            home,
            AlertInput(
                title="Invoice-themed spear-phishing against county payroll staff",
                summary="Since 07:40 our payroll office received e-mails with the subject **“Overdue invoice – action "
                "required”** linking to a fake sign-in page. Two staff entered credentials; we reset them.",
                recommended_actions="- Block the domains below at your mail gateway and web proxy.\n"
                "- Search your mail logs for the sender domains since this morning.\n"
                "- Reset credentials of anyone who clicked.",
                category=Alert.Category.PHISHING,
                severity=Alert.Severity.HIGH,
                tlp=TLP.GREEN,
                attack_techniques=["T1566.002"],
                indicators=[(None, d) for d in domains] + [("email_subject", "Overdue invoice – action required")],
                confirm_benign=True,
            ),
        ),
        (
            neighbour_admin,
            neighbour,
            AlertInput(
                title="VPN brute force followed by Cobalt Strike beacons",
                summary="After a week of password spraying against our VPN, one account was used from the addresses "
                "below and a beacon was found on a file server. Contained; investigating.",
                recommended_actions="Check VPN logs for these addresses; enforce MFA on remote access.",
                category=Alert.Category.RANSOMWARE_PRECURSOR,
                severity=Alert.Severity.CRITICAL,
                tlp=TLP.AMBER,
                anonymous=True,
                attack_techniques=["T1110.003", "T1133"],
                recipient_orgs=[state_it, home],
                indicators=[(None, ip) for ip in ips],
                confirm_benign=True,
            ),
        ),
    ]
    created = 0
    for author, org, data in specs:
        if Alert.objects.filter(author_org=org, title=data.title).exists():
            continue
        alert_publish(actor=author, alert=alert_save_draft(actor=author, author_org=org, data=data))
        created += 1
    return created
