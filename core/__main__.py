"""``python -m core ...`` entry point."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
