"""TLP 2.0 (FIRST): the labels, their order, and their STIX 2.1 marking-definition ids.

The label is access control in CommonGuard, not a tag: see docs/adr/0013-tlp-audience-policy.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


class TLP(models.TextChoices):
    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber+strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


# From least to most restrictive.
TLP_ORDER = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
COMMUNITY_LABELS = frozenset({TLP.CLEAR, TLP.GREEN})
NAMED_ORGANISATION_LABELS = frozenset({TLP.AMBER, TLP.AMBER_STRICT})

# The OASIS TLP 2.0 marking definitions (extension-definition--60a3c5c5-…), which STIX export uses.
STIX_TLP2_MARKING_IDS = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

# What each label lets a recipient do, in words shown beside the label when composing.
GUIDANCE = {
    TLP.CLEAR: "No limit on disclosure. Every vetted member sees it; it may be shared publicly.",
    TLP.GREEN: "The community: every vetted member of this hub. Not for public channels.",
    TLP.AMBER: "Only the organisations and sharing groups you name; they may share on a need-to-know basis "
    "within their organisation and its clients.",
    TLP.AMBER_STRICT: "Only the organisations and sharing groups you name; they may share within their own "
    "organisation only.",
    TLP.RED: "Only the people you name, for their eyes only. No further disclosure.",
}


def parse_tlp(value: str) -> TLP:
    """Accept 'amber+strict', 'TLP:AMBER+STRICT', 'tlp:white' (TLP 1.0 WHITE is CLEAR). Unknown → ValueError."""
    text = value.strip().lower().removeprefix("tlp:").replace(" ", "")
    if text == "white":
        text = "clear"
    try:
        return TLP(text)
    except ValueError:
        raise ValueError(f"Unknown TLP label {value!r}: use one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED.") from None


def most_restrictive(labels: Iterable[str]) -> TLP | None:
    """The narrowest of `labels` (None when there are none): what a set of markings allows together.
    Called once per object of an import (tens of thousands): a rank lookup, no Enum call per label."""
    best: str | None = None
    for label in labels:
        if label not in _TLP_RANK:
            TLP(label)  # the ValueError of an unknown label
        if best is None or _TLP_RANK[label] > _TLP_RANK[best]:
            best = label
    return None if best is None else TLP(best)


_TLP_RANK: dict[str, int] = {label.value: rank for rank, label in enumerate(TLP_ORDER)}
