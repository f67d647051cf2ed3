"""The NIST CSF 2.0 Core, loaded as data.

The catalogue is the extracted OSCAL file `data/csf2-core.json` (6 functions, 22 categories,
106 subcategories; US government work). It is read and checked here, then written into the
`CsfFunction` / `CsfCategory` / `CsfSubcategory` tables by the data migration and by
`commonguard csf_load [--source FILE]` (for a later revision). Nothing here is typed by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "csf2-core.json"


class CsfCatalogueError(ValueError):
    """The catalogue file is missing or malformed: nothing is written."""


@dataclass(frozen=True)
class Counts:
    functions: int
    categories: int
    subcategories: int


def read_catalogue(path: Path | str = CATALOGUE_FILE) -> list[dict[str, Any]]:
    """Parse and check the catalogue: every function, category and subcategory has an id of the
    right shape under its parent, and a title or statement. Raises CsfCatalogueError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CsfCatalogueError(f"cannot read the CSF catalogue {path}: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise CsfCatalogueError("the CSF catalogue must be a non-empty list of functions")
    seen: set[str] = set()
    for function in data:
        fid = function.get("id", "")
        if not (isinstance(fid, str) and len(fid) == 2 and fid.isupper() and function.get("title")):
            raise CsfCatalogueError(f"malformed function {fid!r}")
        for category in function.get("categories") or []:
            cid = category.get("id", "")
            if not (isinstance(cid, str) and cid.startswith(fid + ".") and category.get("title")):
                raise CsfCatalogueError(f"category {cid!r} is not under function {fid}")
            for sub in category.get("subcategories") or []:
                sid = sub.get("id", "")
                if not (isinstance(sid, str) and sid.startswith(cid + "-") and sub.get("statement")):
                    raise CsfCatalogueError(f"subcategory {sid!r} is not under category {cid}")
                if sid in seen:
                    raise CsfCatalogueError(f"subcategory {sid} appears twice")
                seen.add(sid)
    return data


def sync_catalogue(data: list[dict[str, Any]], *, function_model: Any, category_model: Any, sub_model: Any) -> Counts:
    """Create or update the rows for `data` (models passed in, so the migration can use its
    historical models). Items are never deleted: scores keep pointing at what they scored."""
    counts = Counts(0, 0, 0)
    nf = nc = ns = 0
    for f_order, function in enumerate(data):
        fn, _ = function_model.objects.update_or_create(
            code=function["id"], defaults={"title": function["title"].title(), "order": f_order}
        )
        nf += 1
        for c_order, category in enumerate(function.get("categories") or []):
            cat, _ = category_model.objects.update_or_create(
                code=category["id"],
                defaults={
                    "function": fn,
                    "title": category["title"],
                    "statement": category.get("statement", ""),
                    "order": f_order * 100 + c_order,
                },
            )
            nc += 1
            for s_order, sub in enumerate(category.get("subcategories") or []):
                sub_model.objects.update_or_create(
                    code=sub["id"],
                    defaults={"category": cat, "statement": sub["statement"], "order": cat.order * 100 + s_order},
                )
                ns += 1
    counts = Counts(nf, nc, ns)
    return counts
