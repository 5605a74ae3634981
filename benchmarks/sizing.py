"""Memory and disk per N memories: ``python -m benchmarks.sizing [--memories N] [--json FILE]``."""

from HoloLoom.bench.sizing import main

if __name__ == "__main__":
    raise SystemExit(main())
