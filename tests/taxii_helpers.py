"""Building blocks for the TAXII tests: tokens, headers, small valid STIX objects."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from django.test import Client

from commonguard.accounts.services import token_create

TAXII = "application/taxii+json;version=2.1"
ATTACK_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "attack"


def token_for(user: Any) -> str:
    return token_create(actor=user, name="taxii test")[1]


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"anyone:{secret}".encode()).decode()


class TaxiiClient:
    """Django's test client speaking TAXII with a token."""

    def __init__(self, client: Client, secret: str | None) -> None:
        self.client = client
        self.headers: dict[str, str] = {"accept": TAXII}
        if secret:
            self.headers["authorization"] = basic(secret)

    def get(self, url: str, **headers: str) -> Any:
        return self.client.get(url, headers={**self.headers, **headers})

    def post(self, url: str, body: bytes | str, content_type: str = TAXII, **extra: Any) -> Any:
        return self.client.generic("POST", url, body, content_type=content_type, headers=self.headers, **extra)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers=self.headers)


def indicator(value: str = "91.92.251.10", **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-02T03:04:05.000Z",
        "modified": "2026-01-02T03:04:05.000Z",
        "name": f"C2 {value}",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-02T03:04:05Z",
        **extra,
    }
