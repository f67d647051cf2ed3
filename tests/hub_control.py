"""Drive a second CommonGuard hub (its own process and database) from a test or a benchmark:
`python -m tests.hub_control ACTION JSON` runs one action on the hub named by the environment
(DATABASE_URL or COMMONGUARD_SQLITE_PATH, COMMONGUARD_HUB_ID) and prints its result as JSON on the
last line (or, with `--serve`, answers actions line by line). The actions use the hub's real
services, as a person or the scheduler would."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")


def _setup() -> None:
    import django

    django.setup()


def seed(args: dict[str, Any]) -> dict[str, Any]:
    """A hub's small world: an author's organisation, an author, a reader in another organisation,
    a member of an organisation that reads AMBER alerts from peers; idempotent."""
    from django.utils import timezone

    from commonguard.accounts.models import Membership, Role, User
    from commonguard.orgs.models import Organization

    out: dict[str, Any] = {}
    for key, name in (("author_org", "Author County"), ("reader_org", "Reader County"), ("soc", "State SOC")):
        org, _ = Organization.objects.get_or_create(
            source_key=f"fedtest:{key}",
            defaults={
                "name": f"{args.get('prefix', '')}{name}",
                "kind": "state_agency" if key == "soc" else "county",
                "status": "approved",
                "state": "MI",
            },
        )
        out[key] = org.pk
    for key, org_key in (("author", "author_org"), ("reader", "reader_org"), ("soc_member", "soc")):
        user, _ = User.objects.get_or_create(email=f"{key}@{args.get('domain', 'hub.example')}")
        Membership.objects.get_or_create(
            user=user,
            organization_id=out[org_key],
            defaults={"role": Role.MEMBER, "status": "approved", "decided_at": timezone.now()},
        )
        out[key] = user.email
    return out


def peer(args: dict[str, Any]) -> dict[str, Any]:
    from commonguard.federation.services import peer_save
    from commonguard.orgs.models import Organization

    amber = args.pop("amber_source_keys", None)
    orgs = list(Organization.objects.filter(source_key__in=amber)) if amber is not None else None
    saved, _ = peer_save(actor=None, amber_organizations=orgs, **args)
    return {"peer": saved.pk}


def _user(email: str) -> Any:
    from commonguard.accounts.models import User

    return User.objects.get(email=email)


def publish(args: dict[str, Any]) -> dict[str, Any]:
    from django.db import transaction

    from commonguard.federation.models import Peer
    from commonguard.federation.services import alert_peers_set
    from commonguard.orgs.models import Organization
    from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft

    author = _user(args["author"])
    org = Organization.objects.get(source_key="fedtest:author_org")
    recipients = list(Organization.objects.filter(source_key__in=args.get("recipient_source_keys", [])))
    people = [_user(e) for e in args.get("recipient_people", [])]
    data = AlertInput(
        title=args["title"],
        summary=args.get("summary", "What happened."),
        category="phishing",
        tlp=args["tlp"],
        recipient_orgs=recipients,
        recipient_people=people,
        indicators=[(None, v) for v in args.get("indicators", [])],
    )
    with transaction.atomic():
        alert = alert_save_draft(actor=author, author_org=org, data=data)
        alert_peers_set(actor=author, alert=alert, peers=list(Peer.objects.filter(name__in=args.get("peers", []))))
        alert_publish(actor=author, alert=alert)
    return {"uuid": str(alert.uuid)}


def change(args: dict[str, Any]) -> dict[str, Any]:
    from commonguard.federation.services import alert_delete
    from commonguard.sharing.models import Alert
    from commonguard.sharing.services import AlertInput, alert_revoke, alert_update

    alert = Alert.objects.get(uuid=args["uuid"])
    author = alert.author
    if args["what"] == "update":
        data = AlertInput(
            title=args["title"],
            summary=alert.summary,
            category=alert.category,
            tlp=args.get("tlp", alert.tlp),
            recipient_orgs=list(alert.recipient_orgs.all()),
            indicators=[(i.kind, i.value) for i in alert.indicators.all()],
        )
        alert_update(actor=author, alert=alert, data=data)
    elif args["what"] == "revoke":
        alert_revoke(actor=author, alert=alert, reason=args.get("reason", "Wrong."))
    else:
        alert_delete(actor=author, alert=alert, reason="Shared by mistake.")
    return {"ok": True}


def visible(args: dict[str, Any]) -> dict[str, Any]:
    from commonguard.federation.models import Received
    from commonguard.sharing.models import Alert

    alerts = Alert.objects.visible_to(_user(args["email"])).order_by("pk")
    rows = []
    for a in alerts:
        received = Received.objects.filter(alert=a).first()
        rows.append(
            {
                "uuid": str(a.uuid),
                "title": a.title,
                "tlp": a.tlp,
                "status": a.status,
                "author_org": a.author_org.name,
                "path": received.path if received else [],
                "indicators": sorted(i.value for i in a.indicators.all()),
            }
        )
    return {"alerts": rows}


def held(args: dict[str, Any]) -> dict[str, Any]:
    """Every alert the hub holds, by uuid (whoever may read it): for counting copies."""
    from commonguard.sharing.models import Alert

    return {"uuids": [str(u) for u in Alert.objects.values_list("uuid", flat=True)]}


def run(args: dict[str, Any]) -> dict[str, Any]:
    """One scheduler pass: pull every enabled peer (due or not) and push what is pending."""
    from commonguard.federation.models import Peer
    from commonguard.federation.services import pull, push_pending

    out: dict[str, Any] = {"pulled": [], "pushed": []}
    for p in Peer.objects.filter(enabled=True):
        if args.get("pull", True) and p.pull:
            out["pulled"].append(pull(p))
        if args.get("push", True) and p.push:
            out["pushed"].append(push_pending(p))
    return out


def changes(args: dict[str, Any]) -> dict[str, Any]:
    """The outbox: (peer, alert uuid, status, last error) per row."""
    from commonguard.federation.models import Change

    return {
        "rows": [
            [c.peer.name, str(c.alert_uuid), c.status, c.last_error]
            for c in Change.objects.select_related("peer").order_by("pk")
        ]
    }


def token(args: dict[str, Any]) -> dict[str, Any]:
    """An API token of a person of this hub (for reading it over its REST API)."""
    from commonguard.accounts.services import token_create

    return {"token": token_create(actor=_user(args["email"]), name="federation bench")[1]}


ACTIONS = {f.__name__: f for f in (seed, peer, publish, change, visible, held, run, changes, token)}


def main() -> None:
    """`ACTION JSON`: one action. `--serve`: one action per line on stdin (`ACTION JSON`), one JSON
    answer per line on stdout (`{"error": ...}` when the action failed), until stdin closes."""
    _setup()
    if sys.argv[1] != "--serve":
        action, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
        sys.stdout.write(json.dumps(ACTIONS[action](json.loads(raw))) + "\n")
        return
    from django.db import close_old_connections

    for line in sys.stdin:
        action, _, raw = line.strip().partition(" ")
        try:
            answer = ACTIONS[action](json.loads(raw or "{}"))
        except Exception as exc:  # reported to the caller, which fails the test with it
            import traceback

            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        close_old_connections()
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
