"""Retrieval quality on multi-hop data: ``python -m benchmarks.quality --data DIR [--json FILE]``.

The implementation ships in the package (``HoloLoom.bench.quality``) so that
``hololoom bench quality`` works from any install; this module runs it from a checkout.
"""

from HoloLoom.bench.quality import main

if __name__ == "__main__":
    raise SystemExit(main())
