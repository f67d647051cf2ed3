"""Known-benign values from the MISP warning lists, through our index."""

from __future__ import annotations

import pytest

from commonguard.sharing.warninglists import benign_matches


@pytest.mark.parametrize(
    ("kind", "value", "list_word"),
    [
        ("ipv4", "10.20.30.40", "RFC 1918"),
        ("ipv4", "192.168.1.1", "RFC 1918"),
        ("cidr", "172.16.0.0/12", "RFC 1918"),
        ("ipv4", "8.8.8.8", "DNS resolvers"),
        ("ipv4", "52.95.110.1", "Amazon AWS"),
        ("domain", "google.com", "Top"),
        ("url", "https://www.microsoft.com/security", "Top"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e", "empty files"),
    ],
)
def test_benign_values_are_flagged(kind, value, list_word):
    names = benign_matches(kind, value)
    assert any(list_word in name for name in names), names


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ipv4", "91.92.251.103"),
        ("domain", "login-micros0ft-support.com"),
        ("url", "http://invoice-county-payroll.net/a.php"),
        ("sha256", "a" * 64),
        ("email", "ceo@county-payroll.net"),
        ("cve", "CVE-2024-3400"),
    ],
)
def test_ordinary_indicators_are_not(kind, value):
    assert benign_matches(kind, value) == []


def test_subdomains_of_popular_hosting_are_not_benign():
    assert benign_matches("domain", "duckdns.org")  # the provider itself is popular
    assert benign_matches("domain", "038d159d.random.bb2023.duckdns.org") == []
    assert benign_matches("url", "https://evil-tenant.github.io/login") == []
