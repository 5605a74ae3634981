"""Learned routing benchmark: ``python -m benchmarks.routing [--json FILE] [--no-hotpotqa]``.

The implementation ships in the package (``HoloLoom.bench.routing``) so that
``hololoom bench routing`` works from any install; this module runs it from a checkout.
"""

from HoloLoom.bench.routing import main

if __name__ == "__main__":
    raise SystemExit(main())
