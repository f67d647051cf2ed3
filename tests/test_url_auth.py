"""Walk the whole URLconf: every URL must refuse an anonymous caller (sign-in redirect for pages,
401 for the API and TAXII), except the sign-in pages themselves."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages anyone may open: signing in, creating an account, the load-balancer probe.
# The e-mail unsubscribe link works without signing in: its signed token names the person (tested
# in test_channels.py).
PUBLIC = {
    "accounts:login",
    "accounts:register",
    "healthz",
    "admin:login",
    "admin:logout",
    "sharing:unsubscribe",
    "partnerships:calendar-feed",
}


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else prefix + str(p.pattern)


def _group_value(match: re.Match[str]) -> str:
    name, body = match.group(1), match.group(2)
    if name == "pk" or "\\d" in body:
        return "1"
    choices = re.fullmatch(r"[a-z_]+(\|[a-z_]+)*", body)
    return body.split("|")[0] if choices else "x"


def _concrete(route: str) -> str:
    """Turn a route (path converters or regex) into a URL with plausible values: 1 for ids,
    the first alternative for a choice of words."""
    url = re.sub(r"\(\?P<(\w+)>([^()]*)\)", _group_value, route)
    url = re.sub(r"<uuid:\w+>", "00000000-0000-4000-8000-000000000001", url)
    url = re.sub(r"<(?:int:)?\w*pk\w*>|<int:\w+>", "1", url)
    url = re.sub(r"<(?:path|str|slug):\w+>|<\w+>", "x", url)
    url = url.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".")
    return "/" + url


ROUTES = sorted(set(_walk(get_resolver().url_patterns)))


def test_the_walk_finds_the_apps():
    names = {name for _, name in ROUTES}
    for expected in ["web:home", "orgs:directory", "orgs:detail", "accounts:account", "core:audit", "api:schema"]:
        assert expected in names


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[n for _, n in ROUTES])
def test_every_url_needs_sign_in(client, db, route, name):
    if name in PUBLIC or "(?P<format>" in route:
        return
    url = _concrete(route)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code == 405:
            continue
        if url.startswith("/taxii2/"):  # TAXII: a 401 with a challenge, as a TAXII error resource
            assert response.status_code == 401, f"{method.upper()} {url} answered {response.status_code}"
            assert "Basic" in response["WWW-Authenticate"]
        elif url.startswith("/federation/"):  # peer hubs only: the link's secret as a Bearer token
            assert response.status_code == 401, f"{method.upper()} {url} answered {response.status_code}"
            assert "Bearer" in response["WWW-Authenticate"]
        elif url.startswith("/api/") or name in {"feeds:misp-manifest", "feeds:misp-event", "feeds:misp-hashes"}:
            # The hub's MISP feed is read by MISP instances with API tokens: it answers like the API.
            assert response.status_code in {401, 403}, f"{method.upper()} {url} answered {response.status_code}"
        elif url.startswith("/admin/"):
            assert response.status_code in {302, 404}, f"{method.upper()} {url} answered {response.status_code}"
            if response.status_code == 302:
                assert "/admin/login/" in response["Location"]
        else:
            assert response.status_code in {302, 403}, f"{method.upper()} {url} answered {response.status_code}"
            if response.status_code == 302:
                assert response["Location"].startswith("/accounts/login/"), f"{url} -> {response['Location']}"
