"""The ``libcrm`` command: Django's management commands under one name.

``libcrm rotate-keys`` and ``libcrm rotate_keys`` are the same command, so the CLI reads
naturally while the commands stay ordinary Django management commands.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "libcrm.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    argv[0] = "libcrm"
    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        # Configuration mistakes are the operator's to fix: say what and how, no traceback.
        sys.stderr.write(f"libcrm: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
