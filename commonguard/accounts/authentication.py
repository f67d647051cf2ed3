"""DRF authentication with personal API tokens: `Authorization: Bearer cg_…` or HTTP Basic with
the token as the password (what TAXII clients send). A revoked or expired token is refused."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from commonguard.accounts.services import token_authenticate

_INVALID = "Invalid, expired or revoked API token."


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as: Authorization: Bearer <token>.")
        token = token_authenticate(header[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed(_INVALID)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BasicTokenAuthentication(authentication.BaseAuthentication):
    """HTTP Basic where the password is an API token (the user name is ignored)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.")
        try:
            decoded = base64.b64decode(header[1]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        _, _, secret = decoded.partition(":")
        token = token_authenticate(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(_INVALID)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'
