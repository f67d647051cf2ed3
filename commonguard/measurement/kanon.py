"""k-anonymity for everything measurement publishes (ADR 26).

Every aggregate of private data (survey answers, self-assessments) that leaves this app — page,
CSV, API, PDF — is a `Cell` made here. A cell counts the distinct organisations behind it; below
K it carries no value. Within a partition whose total is also published (regions of a state, size
bands, counties), the suppressed cells together must also reach K, or the smallest shown cells are
suppressed too: otherwise "total minus the shown cells" would give away what was hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

K = 5


@dataclass
class Cell:
    key: Hashable
    label: str
    organisations: frozenset[int] = field(repr=False)
    values: dict[str, Any] = field(default_factory=dict)
    suppressed: bool = False

    @property
    def n(self) -> int:
        return len(self.organisations)

    def as_json(self) -> dict[str, Any]:
        if self.suppressed:
            return {"key": self.key, "label": self.label, "n": None, "suppressed": True}
        return {"key": self.key, "label": self.label, "n": self.n, "suppressed": False, **self.values}


def cell(
    key: Hashable,
    label: str,
    rows: Iterable[tuple[int, Any]],
    compute: Callable[[list[Any]], dict[str, Any]],
    *,
    k: int = K,
) -> Cell:
    """A cell from (organisation id, row) pairs. `compute` sees the rows only when k is reached."""
    rows = list(rows)
    orgs = frozenset(org for org, _ in rows)
    if len(orgs) < k:
        return Cell(key, label, orgs, {}, suppressed=True)
    return Cell(key, label, orgs, compute([row for _, row in rows]))


def partition(
    rows: Iterable[tuple[Hashable, str, int, Any]],
    compute: Callable[[list[Any]], dict[str, Any]],
    *,
    k: int = K,
    order: Mapping[Any, int] | None = None,
) -> list[Cell]:
    """Cells from (cell key, cell label, organisation id, row), each below k suppressed. The partition
    is protected with its total and the other cuts it is published with by `protect()`."""
    grouped: dict[Hashable, tuple[str, list[tuple[int, Any]]]] = {}
    for key, label, org, row in rows:
        grouped.setdefault(key, (label, []))[1].append((org, row))
    cells = [cell(key, label, members, compute, k=k) for key, (label, members) in grouped.items()]
    if order is not None:
        cells.sort(key=lambda c: order.get(c.key, 10_000))
    return cells


def protect(total: Cell, partitions: list[list[Cell]], *, k: int = K) -> None:
    """Protect one publication: a total and the partitions of its organisations that are shown
    with it (regions, size bands, counties). Until nothing changes:

    - a suppressed total suppresses everything;
    - in each partition, the organisations of the total not covered by a shown cell (suppressed
      cells, and organisations in no cell) must number 0 or at least k, else the smallest shown
      cell is suppressed too (otherwise "total minus the shown cells" singles them out);
    - across all shown cells and the total, a cell that is another minus 1..k-1 organisations is
      suppressed (comparing the two would single those out).
    """
    everything = [c for part in partitions for c in part]

    def suppress(c: Cell) -> None:
        c.suppressed, c.values = True, {}

    if total.suppressed:
        for c in everything:
            suppress(c)
        return
    changed = True
    while changed:
        changed = False
        for part in partitions:
            shown = [c for c in part if not c.suppressed]
            covered = frozenset().union(*(c.organisations for c in shown))
            uncovered = total.organisations - covered
            if 0 < len(uncovered) < k and shown:
                suppress(min(shown, key=lambda c: (c.n, str(c.key))))
                changed = True
        shown_all = [total, *(c for c in everything if not c.suppressed)]
        for big in shown_all:
            for small in shown_all:
                if small is big or small is total or small.suppressed:
                    continue
                if small.organisations <= big.organisations and 0 < len(big.organisations - small.organisations) < k:
                    suppress(small)
                    changed = True
