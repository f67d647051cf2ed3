"""`commonguard` command: Django's manage.py under the project's name (`commonguard demo --state MI`)."""

from __future__ import annotations

import os
import sys

ALIASES = {"taxii-pull": "taxii_pull", "feed-pull": "feed_pull"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1 and argv[1] in ALIASES:  # `commonguard taxii-pull`, as the issue names it
        argv[1] = ALIASES[argv[1]]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
