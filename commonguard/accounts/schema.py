"""OpenAPI descriptions of the token authentication schemes (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "commonguard.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (cg_…), from My account."}


class BasicTokenScheme(OpenApiAuthenticationExtension):
    target_class = "commonguard.accounts.authentication.BasicTokenAuthentication"
    name = "basicToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic", "description": "Any user name; the password is an API token."}
