"""Building alerts for tests through the real services."""

from __future__ import annotations

from typing import Any

from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft


def make_alert(author: Any, org: Any, tlp: str, *, publish: bool = True, **extra: Any) -> Alert:
    data = AlertInput(
        title=extra.pop("title", f"{tlp} phishing wave"),
        summary=extra.pop("summary", "Invoices from a look-alike domain."),
        category=extra.pop("category", Alert.Category.PHISHING),
        tlp=tlp,
        **extra,
    )
    alert = alert_save_draft(actor=author, author_org=org, data=data)
    return alert_publish(actor=author, alert=alert) if publish else alert
