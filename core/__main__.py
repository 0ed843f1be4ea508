"""``python -m core ...`` entry point."""

import sys

if __name__ == "__main__":
    # a batch starts its worker processes' imports now, on another core, while the
    # command line below imports (core.batch.workers imports only the standard library)
    from core.batch.workers import start_early

    start_early(sys.argv[1:])

    from core.cli import main

    sys.exit(main())
