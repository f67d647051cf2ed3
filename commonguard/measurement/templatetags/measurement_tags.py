from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def dictget(mapping: Any, key: str) -> Any:
    """`{{ cell.values|dictget:"information_sharing" }}`: a dictionary value by a variable key."""
    return mapping.get(key) if hasattr(mapping, "get") else None
