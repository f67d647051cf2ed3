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


def protect_partition(cells: list[Cell], *, total_published: bool = True, k: int = K) -> list[Cell]:
    """Complementary suppression: when the partition's total is published, the organisations in the
    suppressed cells must together number 0 or at least k; shown cells are suppressed, smallest
    first, until that holds (or every cell is suppressed)."""
    if not total_published:
        return cells

    def hidden() -> int:
        return len(frozenset().union(*(c.organisations for c in cells if c.suppressed)))

    while 0 < hidden() < k:
        shown = sorted((c for c in cells if not c.suppressed), key=lambda c: (c.n, str(c.key)))
        if not shown:
            break
        shown[0].suppressed = True
        shown[0].values = {}
    return cells


def partition(
    rows: Iterable[tuple[Hashable, str, int, Any]],
    compute: Callable[[list[Any]], dict[str, Any]],
    *,
    k: int = K,
    order: Mapping[Any, int] | None = None,
) -> list[Cell]:
    """Cells from (cell key, cell label, organisation id, row), protected as a partition."""
    grouped: dict[Hashable, tuple[str, list[tuple[int, Any]]]] = {}
    for key, label, org, row in rows:
        grouped.setdefault(key, (label, []))[1].append((org, row))
    cells = [cell(key, label, members, compute, k=k) for key, (label, members) in grouped.items()]
    if order is not None:
        cells.sort(key=lambda c: order.get(c.key, 10_000))
    return protect_partition(cells, k=k)


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
