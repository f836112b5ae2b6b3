"""``python -m junction_control``: the `junction-control` command."""

import sys

from junction_control.cli import main

if __name__ == "__main__":
    sys.exit(main())
