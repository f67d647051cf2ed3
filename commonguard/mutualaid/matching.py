"""Matching an assistance request to responders and team packages (ADR 24).

One SQL query per kind reads every candidate with the facts the database answers best (is there
an availability window covering the period, a conflicting organisation, an overlapping deployment,
a lapsed credential), as plain tuples; numpy then scores all of them at once: skill fit from the
precomputed 64-bit skill sets (`bitwise_count` of the AND), great-circle distance between county
centroids, agreement coverage (`isin` against the programmes the requester has an agreement in
force with), credential validity. Only the top N are turned into Python objects and explained.

Hard exclusions (counted, not ranked): a declared conflict of interest with the requester, days
already committed to another deployment, and a mode the responder cannot work in (remote-only for
an on-site request and the reverse).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from django.db import connections
from django.db.models import Case, F, Value, When

from commonguard.mutualaid.models import (
    Agreement,
    AgreementParty,
    AssistanceRequest,
    AvailabilityWindow,
    Credential,
    Deployment,
    Responder,
    Skill,
    TeamMember,
    TeamPackage,
)

# Weights of the factors in a score out of 100.
WEIGHTS = {"skills": 40.0, "availability": 20.0, "distance": 15.0, "agreement": 15.0, "credentials": 10.0}
# Distance score falls linearly to 0 at this many kilometres (on-site); remote work barely cares.
FAR_KM = 400.0
REMOTE_DISTANCE_SHARE = 0.2
EARTH_KM = 6371.0


@dataclass
class Candidate:
    kind: str  # "responder" | "team"
    id: int
    name: str
    organization: str
    score: float
    rank: int = 0
    factors: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    distance_km: float | None = None


@dataclass
class MatchResult:
    responders: list[Candidate]
    teams: list[Candidate]
    considered_responders: int
    considered_teams: int
    excluded: dict[str, int]
    milliseconds: float


def covering_agreements(requesting_org_id: int, day: date) -> dict[int, str]:
    """Organisations bound with the requester by an agreement in force on `day` → the agreement's name."""
    mine = AgreementParty.objects.filter(
        organization_id=requesting_org_id, signed_on__isnull=False, withdrawn_on__isnull=True
    ).values("agreement_id")
    rows = (
        AgreementParty.objects.filter(
            agreement_id__in=mine,
            agreement__in=Agreement.objects.in_force_on(day),
            signed_on__isnull=False,
            withdrawn_on__isnull=True,
        )
        .exclude(organization_id=requesting_org_id)
        .values_list("organization_id", "agreement__name")
        .order_by("agreement__kind", "agreement__name")
    )
    covered: dict[int, str] = {}
    for org_id, name in rows:
        covered.setdefault(org_id, name)
    # The requester can always call on its own staff.
    covered.setdefault(requesting_org_id, "own organisation")
    return covered


def _fetch(qs: Any) -> list[tuple[Any, ...]]:
    """Run a `values_list` queryset's SQL straight on the cursor: the hot reads return only integers,
    floats and short strings, which need none of Django's per-row converters (a third of the time)."""
    from django.core.exceptions import EmptyResultSet

    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:  # a read rule that lets the person see nothing (`none()`)
        return []
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# Kinds of the per-request facts read in one UNION ALL (kind, id, value).
WINDOW, CREDENTIAL, CONFLICT, COMMITTED, TEAM_CONFLICT, TEAM_EXPIRED, TEAM_EXPIRING = range(7)


def _facts(request: AssistanceRequest, start: date, end: date) -> dict[int, list[tuple[int, int]]]:
    """Everything that depends on the request's dates and requester, one round trip: availability
    windows touching the period (value 1 if one covers it whole), credentials expiring by its end
    (1 if already expired at its start), declared conflicts with the requester, deployments holding
    those days, and the same three facts for team packages through their members."""

    def tag(qs: Any, kind: int, id_field: str, value: Any) -> Any:
        return qs.order_by().annotate(_kind=Value(kind), _value=value).values_list("_kind", id_field, "_value")

    one = Value(1)
    active_members = TeamMember.objects.filter(team__status=TeamPackage.Status.ACTIVE)
    parts = [
        tag(
            AvailabilityWindow.objects.filter(starts_on__lte=end, ends_on__gte=start),
            WINDOW,
            "responder_id",
            Case(When(starts_on__lte=start, ends_on__gte=end, then=one), default=Value(0)),
        ),
        tag(
            Credential.objects.filter(expires_on__lte=end),
            CREDENTIAL,
            "responder_id",
            Case(When(expires_on__lt=start, then=one), default=Value(0)),
        ),
        tag(
            Responder.conflicts.through.objects.filter(organization_id=request.requesting_org_id),
            CONFLICT,
            "responder_id",
            one,
        ),
        tag(
            Deployment.objects.filter(status__in=Deployment.HOLDING, starts_on__lte=end, ends_on__gte=start).exclude(
                request=request
            ),
            COMMITTED,
            "responder_id",
            one,
        ),
        tag(active_members.filter(responder__conflicts__id=request.requesting_org_id), TEAM_CONFLICT, "team_id", one),
        tag(active_members.filter(responder__credentials__expires_on__lt=start), TEAM_EXPIRED, "team_id", one),
        tag(
            active_members.filter(
                responder__credentials__expires_on__gte=start, responder__credentials__expires_on__lte=end
            ),
            TEAM_EXPIRING,
            "team_id",
            one,
        ),
    ]
    facts: dict[int, list[tuple[int, int]]] = {k: [] for k in range(7)}
    for kind, ident, value in _fetch(parts[0].union(*parts[1:], all=True)):
        facts[kind].append((ident, value))
    return facts


_SKILL_NAMES: tuple[float, dict[int, str]] = (0.0, {})


def _skill_names_by_bit() -> dict[int, str]:
    """The taxonomy's names by bit, re-read at most once a minute (it changes with a migration)."""
    global _SKILL_NAMES
    at, names = _SKILL_NAMES
    if time.monotonic() - at > 60 or not names:
        names = dict(Skill.objects.values_list("bit", "name"))
        _SKILL_NAMES = (time.monotonic(), names)
    return names


def _haversine_km(lat: np.ndarray, lng: np.ndarray, lat0: float, lng0: float) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lng)
    la0, lo0 = np.radians(lat0), np.radians(lng0)
    h = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _distance_score(km: np.ndarray, remote: bool) -> np.ndarray:
    score = np.clip(1.0 - km / FAR_KM, 0.0, 1.0)
    score = np.where(np.isnan(km), 0.5, score)  # unknown location: neutral
    if remote:
        score = 1.0 - REMOTE_DISTANCE_SHARE + REMOTE_DISTANCE_SHARE * score
    return score


def _skill_names(bits: int, by_bit: dict[int, str]) -> list[str]:
    return [by_bit[b] for b in sorted(by_bit) if bits >> b & 1]


def match_request(request: AssistanceRequest, *, user: Any, limit: int = 25, today: date | None = None) -> MatchResult:
    """Rank responders and team packages for `request`, as `user` may read the roster and the team
    packages (their `visible_to` rules). The caller has already checked that the person may read the
    request; the result holds roster profiles only (never personal details). Only an open request
    is matched: a filled, cancelled or closed one is refused."""
    from django.core.exceptions import ValidationError

    if request.status != AssistanceRequest.Status.OPEN:
        raise ValidationError(
            {"status": f"The request is {request.get_status_display().lower()}: only an open request is matched."}
        )
    started = time.perf_counter()
    start, end = request.starts_on, request.ends_on
    need = int(request.skill_bits)
    need_count = max(int(need).bit_count(), 1)
    by_bit = _skill_names_by_bit()
    covered = covering_agreements(request.requesting_org_id, start)
    lat0 = request.latitude
    lng0 = request.longitude
    remote = request.mode == AssistanceRequest.Mode.REMOTE
    excluded = {"conflict": 0, "committed": 0, "mode": 0}

    facts = _facts(request, start, end)
    responders = _rank_responders(request, user, facts, need, need_count, covered, lat0, lng0, remote, excluded, limit)
    teams = _rank_teams(request, user, facts, need, need_count, covered, lat0, lng0, remote, excluded, limit)
    candidates, considered_r = responders
    team_candidates, considered_t = teams
    _explain(candidates + team_candidates, need, by_bit, covered, request)
    return MatchResult(
        responders=candidates,
        teams=team_candidates,
        considered_responders=considered_r,
        considered_teams=considered_t,
        excluded=excluded,
        milliseconds=(time.perf_counter() - started) * 1000,
    )


def _mode_ok(request_mode: str, modes: np.ndarray) -> np.ndarray:
    if request_mode == AssistanceRequest.Mode.ONSITE:
        return modes != Responder.WorkMode.REMOTE
    if request_mode == AssistanceRequest.Mode.REMOTE:
        return modes != Responder.WorkMode.ONSITE
    return np.ones(len(modes), dtype=bool)


def _rank_responders(
    request: AssistanceRequest,
    user: Any,
    facts: dict[int, list[tuple[int, int]]],
    need: int,
    need_count: int,
    covered: dict[int, str],
    lat0: float | None,
    lng0: float | None,
    remote: bool,
    excluded: dict[str, int],
    limit: int,
) -> tuple[list[Candidate], int]:
    # The roster as the person may read it: one scan of the active responders who have at least one
    # of the skills asked for.
    roster = Responder.objects.visible_to(user)
    rows = _fetch(
        roster.filter(status=Responder.Status.ACTIVE)
        .alias(overlap=F("skill_bits").bitand(need))
        .filter(overlap__gt=0)
        .order_by("pk")
        .values_list("pk", "programme_id", "skill_bits", "latitude", "longitude", "work_mode")
    )
    if not rows:
        return [], 0
    cols = list(zip(*rows, strict=True))
    ids = np.asarray(cols[0], dtype=np.int64)
    n = len(ids)
    programmes = np.asarray(cols[1], dtype=np.int64)
    bits = np.asarray(cols[2], dtype=np.int64)
    lat = np.asarray(cols[3], dtype=np.float64)  # NULL (None) becomes nan
    lng = np.asarray(cols[4], dtype=np.float64)
    modes = np.asarray(cols[5])

    def flags(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(responder id, value) rows → per-roster-row max value, and whether any row was there."""
        value = np.zeros(n, dtype=np.int64)
        seen = np.zeros(n, dtype=bool)
        if pairs:
            table = np.asarray(pairs, dtype=np.int64)
            rid, val = table[:, 0], table[:, 1]
            pos = np.searchsorted(ids, rid)
            hit = (pos < n) & (ids[np.minimum(pos, n - 1)] == rid)
            np.maximum.at(value, pos[hit], val[hit])
            seen[pos[hit]] = True
        return value, seen

    # The facts that change with the request, each one narrow read by date (no per-row subqueries).
    whole_v, some = flags(facts[WINDOW])
    whole = whole_v > 0
    expired_v, expiring = flags(facts[CREDENTIAL])
    expired = expired_v > 0
    _, conflicted = flags(facts[CONFLICT])
    _, busy = flags(facts[COMMITTED])

    fit = np.bitwise_count(bits & np.int64(need)).astype(np.float64) / need_count
    availability = np.where(whole, 1.0, np.where(some, 0.5, 0.0))
    km = _haversine_km(lat, lng, lat0, lng0) if lat0 is not None and lng0 is not None else np.full(n, np.nan)
    distance = _distance_score(km, remote)
    agreement = np.isin(programmes, np.fromiter(covered, dtype=np.int64)).astype(np.float64)
    credentials = np.where(expired, 0.0, np.where(expiring, 0.5, 1.0))
    score = (
        WEIGHTS["skills"] * fit
        + WEIGHTS["availability"] * availability
        + WEIGHTS["distance"] * distance
        + WEIGHTS["agreement"] * agreement
        + WEIGHTS["credentials"] * credentials
    )
    mode_ok = _mode_ok(request.mode, modes)
    excluded["conflict"] += int(conflicted.sum())
    excluded["committed"] += int((busy & ~conflicted).sum())
    excluded["mode"] += int((~mode_ok & ~busy & ~conflicted).sum())
    score = np.where(conflicted | busy | ~mode_ok, -np.inf, score)
    top = _top(score, limit)
    top_ids = [int(ids[i]) for i in top]
    labels = {
        pk: (name, programme)
        for pk, name, programme in roster.filter(pk__in=top_ids).values_list("pk", "full_name", "programme__name")
    }
    out = []
    for i in top:
        out.append(
            Candidate(
                kind="responder",
                id=int(ids[i]),
                name=labels[int(ids[i])][0],
                organization=labels[int(ids[i])][1],
                score=round(float(score[i]), 1),
                distance_km=None if np.isnan(km[i]) else round(float(km[i]), 1),
                factors={
                    "skills": float(fit[i]),
                    "availability": float(availability[i]),
                    "distance": float(distance[i]),
                    "agreement": float(agreement[i]),
                    "credentials": float(credentials[i]),
                    "skill_bits": int(bits[i]),
                    "programme_id": int(programmes[i]),
                },
            )
        )
    return out, n


def _top(score: np.ndarray, limit: int) -> list[int]:
    finite = np.flatnonzero(np.isfinite(score))
    if len(finite) == 0:
        return []
    k = min(limit, len(finite))
    part = finite[np.argpartition(-score[finite], k - 1)[:k]] if k < len(finite) else finite
    # Highest score first; ties by position (stable) so the order is deterministic.
    return [int(i) for i in part[np.lexsort((part, -score[part]))]]


def _rank_teams(
    request: AssistanceRequest,
    user: Any,
    facts: dict[int, list[tuple[int, int]]],
    need: int,
    need_count: int,
    covered: dict[int, str],
    lat0: float | None,
    lng0: float | None,
    remote: bool,
    excluded: dict[str, int],
    limit: int,
) -> tuple[list[Candidate], int]:
    rows = _fetch(
        TeamPackage.objects.visible_to(user)
        .filter(status=TeamPackage.Status.ACTIVE, is_template=False)
        .alias(overlap=F("skill_bits").bitand(need))
        .filter(overlap__gt=0)
        .values_list(
            "pk",
            "name",
            "provider_id",
            "skill_bits",
            "provider__latitude",
            "provider__longitude",
            "remote_capable",
            "onsite_capable",
            "max_deployment_days",
            "provider__name",
        )
    )
    if not rows:
        return [], 0
    conflicted_ids, expired_ids, expiring_ids = (
        {team for team, _ in facts[kind]} for kind in (TEAM_CONFLICT, TEAM_EXPIRED, TEAM_EXPIRING)
    )
    cols = list(zip(*rows, strict=True))
    ids = np.asarray(cols[0], dtype=np.int64)
    providers = np.asarray(cols[2], dtype=np.int64)
    bits = np.asarray(cols[3], dtype=np.int64)
    lat = np.asarray([np.nan if v is None else float(v) for v in cols[4]], dtype=np.float64)
    lng = np.asarray([np.nan if v is None else float(v) for v in cols[5]], dtype=np.float64)
    remote_ok, onsite_ok = np.asarray(cols[6], dtype=bool), np.asarray(cols[7], dtype=bool)
    max_days = np.asarray(cols[8], dtype=np.int64)
    conflicted, expired, expiring = (
        np.isin(ids, np.fromiter(x, dtype=np.int64)) for x in (conflicted_ids, expired_ids, expiring_ids)
    )

    fit = np.bitwise_count(bits & np.int64(need)).astype(np.float64) / need_count
    availability = np.where(max_days >= request.duration_days, 1.0, 0.5)
    km = _haversine_km(lat, lng, lat0, lng0) if lat0 is not None and lng0 is not None else np.full(len(ids), np.nan)
    distance = _distance_score(km, remote)
    agreement = np.isin(providers, np.fromiter(covered, dtype=np.int64)).astype(np.float64)
    credentials = np.where(expired, 0.0, np.where(expiring, 0.5, 1.0))
    score = (
        WEIGHTS["skills"] * fit
        + WEIGHTS["availability"] * availability
        + WEIGHTS["distance"] * distance
        + WEIGHTS["agreement"] * agreement
        + WEIGHTS["credentials"] * credentials
    )
    if request.mode == AssistanceRequest.Mode.ONSITE:
        mode_ok = onsite_ok
    elif request.mode == AssistanceRequest.Mode.REMOTE:
        mode_ok = remote_ok
    else:
        mode_ok = remote_ok | onsite_ok
    excluded["conflict"] += int(conflicted.sum())
    excluded["mode"] += int((~mode_ok & ~conflicted).sum())
    score = np.where(conflicted | ~mode_ok, -np.inf, score)
    out = []
    for i in _top(score, limit):
        out.append(
            Candidate(
                kind="team",
                id=int(ids[i]),
                name=cols[1][i],
                organization=cols[9][i],
                score=round(float(score[i]), 1),
                distance_km=None if np.isnan(km[i]) else round(float(km[i]), 1),
                factors={
                    "skills": float(fit[i]),
                    "availability": float(availability[i]),
                    "distance": float(distance[i]),
                    "agreement": float(agreement[i]),
                    "credentials": float(credentials[i]),
                    "skill_bits": int(bits[i]),
                    "programme_id": int(providers[i]),
                    "max_days": int(max_days[i]),
                },
            )
        )
    return out, len(ids)


def _explain(
    candidates: list[Candidate], need: int, by_bit: dict[int, str], covered: dict[int, str], request: Any
) -> None:
    """Plain-language reasons for each rank, from the factors."""
    for group in ("responder", "team"):
        rank = 0
        for c in candidates:
            if c.kind != group:
                continue
            rank += 1
            c.rank = rank
            f = c.factors
            bits = int(f["skill_bits"])
            have = _skill_names(bits & need, by_bit)
            missing = _skill_names(need & ~bits, by_bit)
            reason = f"Skills: {len(have)} of {len(have) + len(missing)} ({', '.join(have)})"
            if missing:
                reason += f"; missing {', '.join(missing)}"
            c.reasons.append(reason + ".")
            if group == "responder":
                c.reasons.append(
                    {1.0: "Available for the whole period.", 0.5: "Available for part of the period."}.get(
                        f["availability"], "No availability window covers the period (ask first)."
                    )
                )
            else:
                c.reasons.append(
                    f"Deploys up to {int(f['max_days'])} days"
                    + (
                        " (covers the request)."
                        if f["availability"] == 1.0
                        else " (shorter than the request: plan a relief team)."
                    )
                )
            if c.distance_km is None:
                c.reasons.append("Home location unknown.")
            else:
                c.reasons.append(
                    f"{c.distance_km:.0f} km away"
                    + (" (remote work: distance matters little)." if request.mode == "remote" else ".")
                )
            programme = int(f["programme_id"])
            if programme == request.requesting_org_id:
                c.reasons.append("From the requesting organisation itself.")
            elif programme in covered:
                c.reasons.append(f"Covered by “{covered[programme]}”.")
            else:
                c.reasons.append("No agreement in force covers this pair.")
            c.reasons.append(
                {1.0: "Credentials valid through the period.", 0.5: "A credential expires during the period."}.get(
                    f["credentials"], "A credential has expired: cannot deploy until renewed."
                )
            )
