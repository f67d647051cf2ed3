from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from commonguard.core.text import render_markdown

register = template.Library()


@register.filter
def markdown(source: str) -> SafeString:
    """Markdown rendered and sanitised by core.text.render_markdown (no raw HTML, safe links)."""
    return render_markdown(source)
