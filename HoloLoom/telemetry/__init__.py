"""Prometheus metrics for HoloLoom, fed by the weave event stream.

- :class:`LoomMetrics` (``metrics``): the series, an event subscriber, and a follower of
  other processes' weave logs
- :func:`serve_metrics`, :func:`run_metrics_server`, :class:`MetricsServer` (``server``):
  the ``/metrics`` endpoint
- ``_prometheus``: bucket bounds, lock-free histograms and the store gauges
"""

from .metrics import DEFAULT_METRICS_PORT, LoomMetrics
from .server import MetricsServer, run_metrics_server, serve_metrics

__all__ = ["DEFAULT_METRICS_PORT", "LoomMetrics", "MetricsServer", "run_metrics_server", "serve_metrics"]
