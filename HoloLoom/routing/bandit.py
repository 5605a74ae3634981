"""Beta-Bernoulli Thompson sampling over named arms (the learner behind :mod:`.learned`).

A reward ``r`` in [0, 1] adds ``r`` pseudo-successes and ``1 - r`` pseudo-failures, so
Bernoulli outcomes and fractional scores (a relevance, a recall) use the same update.
``select()`` draws one sample per posterior and plays the arm with the largest draw.
With ``discount=g`` every update first multiplies every arm's evidence by ``g``, pulling
each posterior back toward the prior (half-life ``ln 2 / (1 - g)`` updates).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ValidationError
from .errors import InvalidRewardError, RoutingStateError, UnknownArmError

__all__ = ["ThompsonBandit", "check_arms", "check_discount", "check_prior", "check_unit"]


def check_unit(value: object, name: str = "reward") -> float:
    """``value`` as a float in [0, 1]; booleans count as 0/1. Raises InvalidRewardError."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float, np.floating, np.integer)):
        raise InvalidRewardError(f"{name} must be a number in [0, 1], not {type(value).__name__}")
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also refuses NaN
        raise InvalidRewardError(f"{name} must be in [0, 1], got {value!r}")
    return value


def check_arms(arms: Iterable[str]) -> tuple[str, ...]:
    if isinstance(arms, str):
        raise ValidationError("arms must be a sequence of names, not one string")
    out = tuple(arms)
    if not out:
        raise ValidationError("at least one arm is needed")
    for arm in out:
        if not isinstance(arm, str) or not arm.strip():
            raise ValidationError(f"arm names must be non-empty strings, got {arm!r}")
    if len(set(out)) != len(out):
        raise ValidationError(f"arm names must be unique, got {list(out)}")
    return out


def check_discount(discount: float | None, name: str = "discount") -> float | None:
    if discount is None:
        return None
    if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not (0.0 < float(discount) <= 1.0):
        raise ValidationError(f"{name} must be in (0, 1] or None, got {discount!r}")
    return None if float(discount) == 1.0 else float(discount)


def check_prior(prior: Sequence[float]) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in prior)
    except (TypeError, ValueError):
        raise ValidationError(f"prior must be a pair (alpha, beta), got {prior!r}") from None
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValidationError(f"prior alpha and beta must be positive and finite, got {prior!r}")
    return a, b


class ThompsonBandit:
    """Beta-Bernoulli Thompson sampling over named arms.

    Args:
        arms: the arm names (unique, non-empty strings).
        prior: Beta prior (alpha, beta) of every arm; (1, 1) is uniform.
        seed: seeds the sampler; the same seed and updates give the same choices.
        discount: None (keep all evidence) or g in (0, 1]: before each update every arm's
            evidence is multiplied by g, i.e. counts decay toward the prior.
        optimistic: use ``max(draw, posterior mean)`` as an arm's score (optimistic
            Bayesian sampling, May et al., JMLR 2012): the best arm's draws never fall
            below its mean, which removes exploration that cannot pay off.
        rng: a numpy Generator to share (instead of ``seed``).

    Example:
        >>> bandit = ThompsonBandit(["vector", "graph"], seed=7)
        >>> arm = bandit.select()
        >>> bandit.update(arm, 0.8)
    """

    __slots__ = ("_arms", "_index", "_prior", "_discount", "_optimistic", "_rng", "_s", "_f", "_pulls",
                 "updates", "_inactive")

    def __init__(
        self,
        arms: Iterable[str],
        prior: Sequence[float] = (1.0, 1.0),
        seed: int | None = None,
        discount: float | None = None,
        *,
        optimistic: bool = False,
        rng: np.random.Generator | None = None,
    ) -> None:
        self._arms = check_arms(arms)
        self._index = {a: i for i, a in enumerate(self._arms)}
        self._prior = check_prior(prior)
        self._discount = check_discount(discount)
        self._optimistic = bool(optimistic)
        self._rng = rng if rng is not None else np.random.default_rng(seed)
        n = len(self._arms)
        self._s = np.zeros(n)  # discounted pseudo-successes beyond the prior
        self._f = np.zeros(n)  # discounted pseudo-failures beyond the prior
        self._pulls = np.zeros(n, dtype=np.int64)  # raw update count per arm
        self.updates = 0  # total updates (the clock of the discount)
        self._inactive: dict[str, dict[str, float]] = {}  # removed arms, kept for if they return

    # -- reading -----------------------------------------------------------------------

    @property
    def arms(self) -> tuple[str, ...]:
        return self._arms

    @property
    def prior(self) -> tuple[float, float]:
        return self._prior

    @property
    def discount(self) -> float | None:
        return self._discount

    def _i(self, arm: str) -> int:
        try:
            return self._index[arm]
        except (KeyError, TypeError):
            raise UnknownArmError(f"unknown arm {arm!r}: this bandit has {', '.join(self._arms)}") from None

    def alphas(self) -> np.ndarray:
        return self._prior[0] + self._s

    def betas(self) -> np.ndarray:
        return self._prior[1] + self._f

    def draw(self) -> np.ndarray:
        """One score per arm, in ``arms`` order (the fast path of :meth:`select`)."""
        return self.draw_with_params()[0]

    def draw_with_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, alphas, betas): the draw and the posterior it came from."""
        a = self._prior[0] + self._s
        b = self._prior[1] + self._f
        draws = self._rng.beta(a, b)
        if self._optimistic:
            np.maximum(draws, a / (a + b), out=draws)
        return draws, a, b

    def sample_posteriors(self) -> dict[str, float]:
        """One Thompson draw per arm (what :meth:`select` compares)."""
        return dict(zip(self._arms, self.draw().tolist()))

    def select(self) -> str:
        """The arm with the largest posterior draw."""
        return self._arms[int(np.argmax(self.draw()))]

    def params(self) -> dict[str, tuple[float, float]]:
        """Beta (alpha, beta) of every arm."""
        return {arm: (float(a), float(b)) for arm, a, b in zip(self._arms, self.alphas(), self.betas())}

    def means(self) -> dict[str, float]:
        a, b = self.alphas(), self.betas()
        return dict(zip(self._arms, (a / (a + b)).tolist()))

    def prob_best(self, draws: int = 4000, seed: int = 0) -> dict[str, float]:
        """P(arm has the highest mean) under the posterior, by seeded Monte Carlo."""
        rng = np.random.default_rng(seed)
        samples = rng.beta(self.alphas(), self.betas(), size=(draws, len(self._arms)))
        wins = np.bincount(np.argmax(samples, axis=1), minlength=len(self._arms))
        return dict(zip(self._arms, (wins / draws).tolist()))

    def stats(self) -> dict[str, dict[str, float]]:
        """Per arm: alpha, beta, posterior mean, P(best), pulls (raw updates) and evidence (discounted)."""
        best = self.prob_best()
        out: dict[str, dict[str, float]] = {}
        for i, arm in enumerate(self._arms):
            a, b = self._prior[0] + self._s[i], self._prior[1] + self._f[i]
            out[arm] = {
                "alpha": round(float(a), 6), "beta": round(float(b), 6), "mean": round(float(a / (a + b)), 6),
                "p_best": round(best[arm], 4), "pulls": int(self._pulls[i]),
                "evidence": round(float(self._s[i] + self._f[i]), 6),
            }
        return out

    # -- learning ----------------------------------------------------------------------

    def _decay(self) -> None:
        if self._discount is not None:
            self._s *= self._discount
            self._f *= self._discount

    def update(self, arm: str, reward: float) -> None:
        """Record that ``arm`` earned ``reward`` (in [0, 1]; a bool counts as 0/1)."""
        i = self._i(arm)
        reward = check_unit(reward)
        self._decay()
        self._s[i] += reward
        self._f[i] += 1.0 - reward
        self._pulls[i] += 1
        self.updates += 1

    def adjust(self, arm: str, *, successes: float = 0.0, failures: float = 0.0) -> None:
        """Add (or, with negative values, remove) pseudo-counts without a discount step.

        Evidence never drops below zero, so a posterior never goes below its prior.
        """
        i = self._i(arm)
        for name, value in (("successes", successes), ("failures", failures)):
            if not math.isfinite(value):
                raise ValidationError(f"{name} must be finite, got {value!r}")
        self._s[i] = max(0.0, self._s[i] + successes)
        self._f[i] = max(0.0, self._f[i] + failures)

    def decay_factor(self, since_update: int) -> float:
        """How much one unit of evidence added at update ``since_update`` weighs now."""
        if self._discount is None:
            return 1.0
        return self._discount ** max(0, self.updates - since_update)

    def reset(self) -> None:
        """Forget everything learned (arms and prior stay)."""
        self._s[:] = 0.0
        self._f[:] = 0.0
        self._pulls[:] = 0
        self.updates = 0
        self._inactive.clear()

    # -- arms come and go --------------------------------------------------------------

    def add_arm(self, arm: str) -> None:
        """Add an arm; one removed earlier comes back with what it had learned."""
        check_arms([arm])
        if arm in self._index:
            return
        old = self._inactive.pop(arm, None) or {}
        self._arms = (*self._arms, arm)
        self._index[arm] = len(self._arms) - 1
        self._s = np.append(self._s, float(old.get("successes", 0.0)))
        self._f = np.append(self._f, float(old.get("failures", 0.0)))
        self._pulls = np.append(self._pulls, int(old.get("pulls", 0)))

    def remove_arm(self, arm: str) -> None:
        """Stop playing ``arm``; its evidence is kept (and saved) in case it returns."""
        i = self._i(arm)
        if len(self._arms) == 1:
            raise ValidationError("cannot remove the last arm")
        self._inactive[arm] = {"successes": float(self._s[i]), "failures": float(self._f[i]), "pulls": int(self._pulls[i])}
        keep = [j for j in range(len(self._arms)) if j != i]
        self._arms = tuple(self._arms[j] for j in keep)
        self._index = {a: j for j, a in enumerate(self._arms)}
        self._s, self._f, self._pulls = self._s[keep], self._f[keep], self._pulls[keep]

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state by arm name (removed arms included)."""
        arms = {name: dict(v) for name, v in self._inactive.items()}
        for i, arm in enumerate(self._arms):
            arms[arm] = {"successes": float(self._s[i]), "failures": float(self._f[i]), "pulls": int(self._pulls[i])}
        return {"updates": int(self.updates), "arms": arms}

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Replace the learned state with ``data`` (from :meth:`to_dict`), matching arms by name.

        Arms in ``data`` that this bandit does not have are kept aside (and saved again);
        arms it has that ``data`` lacks start from the prior.
        """
        arms = data.get("arms") or {}
        if not isinstance(arms, Mapping):
            raise RoutingStateError("bandit state: 'arms' must be an object")
        self.reset()
        self.updates = int(data.get("updates", 0))
        for name, v in arms.items():
            try:
                rec = {"successes": max(0.0, float(v.get("successes", 0.0))),
                       "failures": max(0.0, float(v.get("failures", 0.0))),
                       "pulls": max(0, int(v.get("pulls", 0)))}
            except (AttributeError, TypeError, ValueError):
                raise RoutingStateError(f"bandit state: arm {name!r} is malformed") from None
            if not (math.isfinite(rec["successes"]) and math.isfinite(rec["failures"])):
                raise RoutingStateError(f"bandit state: arm {name!r} has non-finite counts")
            i = self._index.get(name)
            if i is None:
                self._inactive[name] = rec
            else:
                self._s[i], self._f[i], self._pulls[i] = rec["successes"], rec["failures"], rec["pulls"]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], arms: Iterable[str] | None = None, **kwargs: Any) -> "ThompsonBandit":
        """A bandit over ``arms`` (default: every arm in ``data``) holding ``data``'s state."""
        bandit = cls(arms if arms is not None else list((data.get("arms") or {}).keys()), **kwargs)
        bandit.load_dict(data)
        return bandit

    def __repr__(self) -> str:
        means = ", ".join(f"{a}={m:.3f}" for a, m in self.means().items())
        return f"ThompsonBandit({means}; {self.updates} updates)"
