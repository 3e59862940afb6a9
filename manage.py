#!/usr/bin/env python
"""Django's command-line utility; `infraplan` is the same thing as a console script."""

from infraplan.cli import main

if __name__ == "__main__":
    main()
