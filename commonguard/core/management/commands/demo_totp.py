"""`commonguard demo_totp EMAIL`: the current two-step sign-in code of a demo person."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo person (local demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        from commonguard.demo import demo_totp_base32, demo_totp_key

        if not settings.DEMO:
            raise CommandError("Only in the local demo (COMMONGUARD_DEMO=1).")
        email = options["email"].lower()
        if not email.endswith("@demo.test"):
            raise CommandError("Only demo people (…@demo.test) have a derivable code.")
        code = totp(bytes.fromhex(demo_totp_key(email)), step=30, digits=6)
        self.stdout.write(f"{code:06d}   (secret for an authenticator app: {demo_totp_base32(email)})")
