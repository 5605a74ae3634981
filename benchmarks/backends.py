"""Backend throughput and latency: ``python -m benchmarks.backends --memories N [--json FILE]``.

The implementation ships in the package (``HoloLoom.bench.backends``) so that
``hololoom bench backends`` works from any install; this module runs it from a checkout.
"""

from HoloLoom.bench.backends import main

if __name__ == "__main__":
    raise SystemExit(main())
