"""``python -m core ...`` entry point."""

import gc
import sys

if __name__ == "__main__":
    # a batch starts its worker processes' imports now, on another core, while the
    # command line below imports (core.batch.workers imports only the standard library)
    from core.batch.workers import start_early

    start_early(sys.argv[1:])

    from core.allocator import keep_freed_memory

    # whole-frame steps reuse freed memory instead of faulting it in again (see there)
    keep_freed_memory()

    from core.cli import main

    code = main()
    # Exit without the collector walking every object of numpy, SciPy, pandas/pyarrow and
    # SimpleITK at interpreter shutdown (0.3-0.5 s): everything is written, the standard
    # streams are still flushed, the operating system frees the memory.
    gc.freeze()
    sys.exit(code)
