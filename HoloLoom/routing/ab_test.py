"""A/B tests between routing strategies, with a winner only once the data says so.

Each query is assigned to a variant in proportion to the variants' weights (seeded, or
sticky per ``key`` such as a user id); the variant's strategy picks the arm; the outcome's
reward in [0, 1] is recorded against the variant.

**How a winner is decided.** Every variant's mean reward gets a Beta posterior,
``Beta(1 + sum(rewards), 1 + sum(1 - rewards))`` (uniform prior; a fractional reward is a
fractional pseudo-count, a failure is 0). A variant wins when

* every variant has at least ``min_outcomes`` outcomes (default 100), and
* the posterior probability that its mean reward is the highest of all variants (for two
  variants: P(A > B)) is at least ``threshold`` (default 0.95),

estimated with ``draws`` Monte Carlo samples from a generator seeded with ``mc_seed``, so
the same data always gives the same answer. Until then :meth:`ABTestRouter.winner` returns
None. Checking after every outcome ("peeking") raises the chance of crowning a variant
that is not really better above 5%; ``min_outcomes`` limits that, and for a decision that
matters fix the sample size up front and check once.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NotFoundError, ValidationError
from .bandit import check_unit

__all__ = ["ABTestRouter", "VariantResult"]


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One variant's outcomes so far."""

    name: str
    weight: float
    assigned: int
    outcomes: int
    mean_reward: float
    success_rate: float
    mean_latency_ms: float
    alpha: float
    beta: float
    prob_best: float

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class _Tally:
    __slots__ = ("assigned", "n", "reward", "successes", "latency", "latency_n")

    def __init__(self) -> None:
        self.assigned = 0
        self.n = 0
        self.reward = 0.0
        self.successes = 0
        self.latency = 0.0
        self.latency_n = 0


class ABTestRouter:
    """Weighted assignment of queries to strategy variants, and their results.

    Args:
        variants: ``{name: (weight, strategy_fn)}``; weights are relative (need not sum
            to 1); ``strategy_fn(*args, **kwargs)`` returns the arm for a query.
        seed: seeds assignment.
        min_outcomes: outcomes every variant needs before a winner can be declared.
        threshold: posterior probability of being best that a winner needs.
        draws: Monte Carlo draws for that probability.
        mc_seed: seed of those draws (the same data always gives the same answer).

    Example:
        >>> ab = ABTestRouter({"learned": (0.5, lambda qt, c: "graph"),
        ...                    "rule_based": (0.5, lambda qt, c: "vector")}, seed=1)
        >>> variant, arm = ab.route("factual", "FAST")
        >>> ab.record(variant, reward=0.9)
    """

    def __init__(
        self,
        variants: Mapping[str, tuple[float, Callable[..., str]]],
        seed: int | None = None,
        *,
        min_outcomes: int = 100,
        threshold: float = 0.95,
        draws: int = 20_000,
        mc_seed: int = 0,
    ) -> None:
        if not isinstance(variants, Mapping) or len(variants) < 2:
            raise ValidationError("an A/B test needs at least two variants: {name: (weight, strategy_fn)}")
        names: list[str] = []
        weights: list[float] = []
        self._fns: dict[str, Callable[..., str]] = {}
        for name, spec in variants.items():
            if not isinstance(name, str) or not name:
                raise ValidationError(f"variant names must be non-empty strings, got {name!r}")
            try:
                weight, fn = spec
            except (TypeError, ValueError):
                raise ValidationError(f"variant {name!r}: give (weight, strategy_fn)") from None
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
                raise ValidationError(f"variant {name!r}: weight must be a non-negative number, got {weight!r}")
            if not callable(fn):
                raise ValidationError(f"variant {name!r}: strategy_fn must be callable")
            names.append(name)
            weights.append(float(weight))
            self._fns[name] = fn
        total = sum(weights)
        if total <= 0:
            raise ValidationError("at least one variant needs a positive weight")
        if isinstance(min_outcomes, bool) or not isinstance(min_outcomes, int) or min_outcomes < 1:
            raise ValidationError("min_outcomes must be a positive integer")
        if not (0.5 < float(threshold) < 1.0):
            raise ValidationError("threshold must be in (0.5, 1)")
        if isinstance(draws, bool) or not isinstance(draws, int) or draws < 100:
            raise ValidationError("draws must be an integer >= 100")
        self._names = tuple(names)
        self._weights = tuple(w / total for w in weights)
        self._cum = np.cumsum(self._weights)
        self._rng = np.random.default_rng(seed)
        self.min_outcomes = min_outcomes
        self.threshold = float(threshold)
        self.draws = draws
        self.mc_seed = mc_seed
        self._tally = {n: _Tally() for n in self._names}
        self._lock = threading.Lock()

    @property
    def variants(self) -> tuple[str, ...]:
        return self._names

    @property
    def weights(self) -> dict[str, float]:
        """Normalised weights."""
        return dict(zip(self._names, self._weights))

    def _tally_of(self, variant: str) -> _Tally:
        try:
            return self._tally[variant]
        except (KeyError, TypeError):
            raise NotFoundError(f"unknown variant {variant!r}: this test has {', '.join(self._names)}") from None

    def assign(self, key: str | None = None) -> str:
        """A variant for one query: random by weight, or always the same for the same ``key``."""
        if key is None:
            u = float(self._rng.random())
        else:
            digest = hashlib.blake2b(str(key).encode("utf-8"), digest_size=8).digest()
            u = int.from_bytes(digest, "big") / 2.0**64
        i = min(int(np.searchsorted(self._cum, u, side="right")), len(self._names) - 1)
        name = self._names[i]
        with self._lock:
            self._tally[name].assigned += 1
        return name

    def route(self, *args: Any, key: str | None = None, **kwargs: Any) -> tuple[str, str]:
        """Assign a variant and let its strategy pick: returns ``(variant, arm)``."""
        variant = self.assign(key)
        return variant, self._fns[variant](*args, **kwargs)

    def strategy(self, variant: str) -> Callable[..., str]:
        self._tally_of(variant)
        return self._fns[variant]

    def record(
        self,
        variant: str,
        reward: float,
        *,
        success: bool = True,
        latency_ms: float | None = None,
        replacing: float | None = None,
    ) -> None:
        """Record an outcome of ``variant``; ``replacing`` swaps an earlier reward instead (feedback)."""
        tally = self._tally_of(variant)
        reward = check_unit(reward)
        with self._lock:
            if replacing is not None:
                tally.reward += reward - check_unit(replacing, "replacing")
                return
            tally.n += 1
            tally.reward += reward
            tally.successes += bool(success)
            if latency_ms is not None:
                tally.latency += float(latency_ms)
                tally.latency_n += 1

    def _posteriors(self) -> tuple[np.ndarray, np.ndarray]:
        a = np.array([1.0 + max(0.0, t.reward) for t in self._tally.values()])
        b = np.array([1.0 + max(0.0, t.n - t.reward) for t in self._tally.values()])
        return a, b

    def prob_best(self) -> dict[str, float]:
        """P(variant has the highest mean reward) under the Beta posteriors (seeded Monte Carlo)."""
        with self._lock:
            a, b = self._posteriors()
        samples = np.random.default_rng(self.mc_seed).beta(a, b, size=(self.draws, len(self._names)))
        wins = np.bincount(np.argmax(samples, axis=1), minlength=len(self._names))
        return dict(zip(self._names, (wins / self.draws).tolist()))

    def results(self) -> dict[str, VariantResult]:
        """Per variant: assignments, outcomes, mean reward, success rate, latency, posterior, P(best)."""
        best = self.prob_best()
        with self._lock:
            a, b = self._posteriors()
            out = {}
            for i, (name, t) in enumerate(self._tally.items()):
                out[name] = VariantResult(
                    name=name, weight=self._weights[i], assigned=t.assigned, outcomes=t.n,
                    mean_reward=t.reward / t.n if t.n else 0.0,
                    success_rate=t.successes / t.n if t.n else 0.0,
                    mean_latency_ms=t.latency / t.latency_n if t.latency_n else 0.0,
                    alpha=float(a[i]), beta=float(b[i]), prob_best=best[name],
                )
            return out

    def winner(self) -> str | None:
        """The variant that is best with probability >= ``threshold``, once every variant has
        ``min_outcomes`` outcomes; otherwise None (see the module docstring)."""
        with self._lock:
            if min(t.n for t in self._tally.values()) < self.min_outcomes:
                return None
        best = self.prob_best()
        name = max(best, key=best.__getitem__)
        return name if best[name] >= self.threshold else None

    # -- persistence (sums only, so saves from several processes add up) ------------------

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {name: {"assigned": t.assigned, "outcomes": t.n, "reward": t.reward, "successes": t.successes,
                           "latency_ms": t.latency, "latency_n": t.latency_n}
                    for name, t in self._tally.items()}

    def load_dict(self, data: Mapping[str, Any], *, replace: bool = False) -> None:
        """Add the tallies in ``data`` (from :meth:`to_dict`) to this test's, or ``replace`` them.

        Unknown variants are ignored.
        """
        with self._lock:
            if replace:
                self._tally = {n: _Tally() for n in self._names}
            for name, v in data.items():
                t = self._tally.get(name)
                if t is None or not isinstance(v, Mapping):
                    continue
                t.assigned += int(v.get("assigned", 0))
                t.n += int(v.get("outcomes", 0))
                t.reward += float(v.get("reward", 0.0))
                t.successes += int(v.get("successes", 0))
                t.latency += float(v.get("latency_ms", 0.0))
                t.latency_n += int(v.get("latency_n", 0))
