#!/usr/bin/env python
"""Django's command-line utility for CommonGuard (the same as the `commonguard` command)."""

from commonguard.cli import main

if __name__ == "__main__":
    main()
