"""Benchmarks shipped with HoloLoom (``hololoom bench ...``); ``benchmarks/`` runs them from a checkout."""
