"""HTTP vs in-process weave under load: ``python -m benchmarks.http_load [--memories N --clients C --duration S --json FILE]``."""

from HoloLoom.bench.http_load import main

if __name__ == "__main__":
    raise SystemExit(main())
