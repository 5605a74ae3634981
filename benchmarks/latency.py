"""Weave latency: ``python -m benchmarks.latency --memories N [--json FILE]`` (see HoloLoom.bench.latency)."""

from HoloLoom.bench.latency import main

if __name__ == "__main__":
    raise SystemExit(main())
