"""Scale: ``python -m benchmarks.scale --memories 10000,100000,1000000 [--backend ...]`` (see HoloLoom.bench.scale)."""

from HoloLoom.bench.scale import main

if __name__ == "__main__":
    raise SystemExit(main())
