#!/usr/bin/env python
"""Django's manage.py; ``libcrm`` is the same thing installed as a command."""

from libcrm.__main__ import main

if __name__ == "__main__":
    main()
