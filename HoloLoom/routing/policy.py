"""The one learner: Beta posteriors, safe Thompson sampling, discounting, one state file.

HoloLoom learns two kinds of choice, each a *space* of this one policy:

========  ==============  ================================================  ==================
space     context         options                                           baseline
========  ==============  ================================================  ==================
``arm``   the query type  retrieval arms: ``hybrid`` (the level's own        ``hybrid``
                          plan), ``graph``, ``vector``, ``backend:NAME``
``tool``  the intent      tools: answer, search, summarize, yours            the intent's tool
========  ==============  ================================================  ==================

**What is learned.** Per (space, context, option), a Beta(alpha, beta) posterior of the
option's mean reward (prior Beta(1, 1)); a reward r in [0, 1] adds r to alpha and 1 - r
to beta. Only explicit feedback is a reward. A weave nobody rated says nothing about
quality: its own confidence and speed favour the fastest, shallowest arm, and rewarding
them once moved traffic onto the weakest strategy. Before each reward every option of
that context is multiplied by ``discount``, so old evidence fades. What every weave may
teach is *availability*, per (space, option): ``(1 + ok) / (1 + ok + errors)``, with the
counts multiplied by ``health_discount`` at every outcome of the space.

**How it chooses (safe Thompson sampling).**

1. Options that are *down* (availability below 1/2: recent errors outnumber successes)
   are passed over, unless every option is down.
2. The *leader* is the baseline, unless another option is clearly better:
   P(its mean > the baseline's) >= 1 - ``delta``.
3. With probability equal to the space's recent *feedback rate* (rated decisions per
   decision, over about the last ``explore_window`` decisions) the choice explores: one
   draw from each posterior that is not clearly worse than the leader (P(better) >=
   ``delta``); the largest draw wins. Otherwise the leader is served.

So a policy that was never rated serves the baseline on every weave; it explores only
while feedback arrives to learn from, and never an option the evidence already rules
out. P(X > Y) uses the normal approximation of the two Beta distributions.

**State** is one JSON file. A save takes the file lock, re-reads the file, replays this
process's changes since its last save on top of it and writes it atomically, so
processes that share the file lose no update and count none twice.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ._statefile import read_json, update_json
from .errors import InvalidRewardError, RoutingStateError, UnknownArmError

__all__ = ["Choice", "Policy", "check_unit", "prob_greater"]

STATE_FORMAT = "hololoom.policy"
STATE_VERSION = 1

_Op = tuple[Any, ...]


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


def prob_greater(x: tuple[float, float], y: tuple[float, float]) -> float:
    """P(X > Y) for X ~ Beta(*x), Y ~ Beta(*y), by the normal approximation."""
    (a1, b1), (a2, b2) = x, y
    m1, m2 = a1 / (a1 + b1), a2 / (a2 + b2)
    var = a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)) + a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1))
    return 0.5 * (1.0 + math.erf((m1 - m2) / math.sqrt(2.0 * var)))


def _fraction(value: object, name: str, *, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a number, got {value!r}")
    if not ((0.0 < value if low_open else 0.0 <= value) and value <= 1.0):
        raise ValidationError(f"{name} must be in {'(' if low_open else '['}0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Choice:
    """What :meth:`Policy.choose` decided, and from what (it goes into the Spacetime's trace)."""

    option: str
    space: str
    context: str
    baseline: str
    leader: str
    explored: bool
    posterior: Mapping[str, tuple[float, float]]
    availability: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context, "baseline": self.baseline, "leader": self.leader, "explored": self.explored,
            "posterior": {o: [round(a, 6), round(b, 6)] for o, (a, b) in self.posterior.items()},
            "posterior_means": {o: round(a / (a + b), 6) for o, (a, b) in self.posterior.items()},
            "availability": {o: round(v, 6) for o, v in self.availability.items()},
        }


def _empty_space() -> dict[str, Any]:
    # contexts: {context: {"updates": n, "options": {option: [successes, failures, rewards]}}}
    # availability: {option: [ok, errors, outcomes]}; rate: [decisions, feedbacks] (both discounted)
    return {"contexts": {}, "availability": {}, "rate": [0.0, 0.0]}


class Policy:
    """Beta posteriors per (space, context, option), safe Thompson sampling, one state file.

    Args:
        path: the JSON state file; None keeps everything in memory.
        seed: seeds the sampler (the same seed and history give the same choices).
        discount: per-reward discount of a context's evidence (0.999: half-life ~700 rewards).
        health_discount: per-outcome discount of the availability counts (0.95: a failing
            option is passed over after two or three errors, then probed about once every
            14 outcomes while it keeps failing; one success brings it back).
        explore_window: decisions over which the feedback rate is measured.
        delta: "clearly" in clearly better/worse: a posterior probability of 1 - delta.
        autosave_every: save after this many unsaved changes (rewards are saved at once).
        lock_timeout: seconds to wait for another process holding the file lock.

    Raises:
        RoutingStateError: ``path`` exists but is not a policy state file.

    Example:
        >>> policy = Policy(seed=7)
        >>> policy.choose("arm", "factual", ["hybrid", "vector"], baseline="hybrid").option
        'hybrid'
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        seed: int | None = None,
        discount: float = 0.999,
        health_discount: float = 0.95,
        explore_window: int = 5,
        delta: float = 0.05,
        autosave_every: int = 200,
        lock_timeout: float = 30.0,
    ) -> None:
        self._discount = _fraction(discount, "discount")
        self._health_discount = _fraction(health_discount, "health_discount")
        if isinstance(explore_window, bool) or not isinstance(explore_window, int) or explore_window < 1:
            raise ValidationError("explore_window must be a positive integer")
        self._rate_decay = 1.0 - 1.0 / explore_window
        self._delta = _fraction(delta, "delta")
        if self._delta >= 0.5:
            raise ValidationError("delta must be below 0.5")
        if isinstance(autosave_every, bool) or not isinstance(autosave_every, int) or autosave_every < 0:
            raise ValidationError("autosave_every must be a non-negative integer")
        self._autosave_every = autosave_every
        self._lock_timeout = float(lock_timeout)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()
        self._spaces: dict[str, dict[str, Any]] = {}
        self._pending: list[_Op] = []  # changes since the last save, replayed on the file's state
        self._defer: Callable[[Callable[[], None]], None] | None = None  # see defer_saves
        self._save_queued = False
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            data = read_json(self.path)
            if data is not None:
                self._spaces = self._parse(data)

    # -- choosing ------------------------------------------------------------------------

    def choose(self, space: str, context: str, options: Iterable[str], *, baseline: str) -> Choice:
        """Pick one of ``options`` for ``context`` (see the module docstring for how)."""
        options = _check_options(options)
        if baseline not in options:
            raise UnknownArmError(f"baseline {baseline!r} is not one of {', '.join(options)}")
        with self._lock:
            self._change(("decision", space))
            sp = self._spaces[space]
            post = {o: self._posterior(sp, context, o) for o in options}
            avail = {o: _availability(sp, o) for o in options}
            up = [o for o in options if avail[o] >= 0.5] or list(options)
            leader = baseline if baseline in up else max(up, key=lambda o: _mean(post[o]))
            better = [o for o in up if o != leader and prob_greater(post[o], post[leader]) >= 1.0 - self._delta]
            if better:
                leader = max(better, key=lambda o: _mean(post[o]))
            option = leader
            decisions, feedbacks = sp["rate"]
            rate = min(1.0, feedbacks / decisions) if decisions > 0 else 0.0
            if rate > 0.0 and self._rng.random() < rate:
                pool = [o for o in up if o == leader or prob_greater(post[o], post[leader]) >= self._delta]
                draws = self._rng.beta([post[o][0] for o in pool], [post[o][1] for o in pool])
                option = pool[int(np.argmax(draws))]
            return Choice(option=option, space=space, context=context, baseline=baseline, leader=leader,
                          explored=option != leader, posterior=post, availability=avail)

    def posterior(self, space: str, context: str, option: str) -> tuple[float, float]:
        """Beta (alpha, beta) of ``option`` in ``context``."""
        with self._lock:
            return self._posterior(self._spaces.get(space) or _empty_space(), context, option)

    @staticmethod
    def _posterior(sp: Mapping[str, Any], context: str, option: str) -> tuple[float, float]:
        ev = ((sp["contexts"].get(context) or {}).get("options") or {}).get(option)
        return (1.0, 1.0) if ev is None else (1.0 + ev[0], 1.0 + ev[1])

    # -- learning ------------------------------------------------------------------------

    def observe(self, space: str, context: str, option: str, reward: float, *,
                replaces: float | None = None) -> tuple[float, float]:
        """Explicit feedback: ``option`` earned ``reward`` in ``context``; saved at once.

        ``replaces``: the reward this same decision was given before, taken back first
        (at full weight: the discount in between is 0.1% per reward, not worth tracking).

        Returns:
            The option's new posterior (alpha, beta).
        """
        reward = check_unit(reward)
        previous = None if replaces is None else check_unit(replaces, "replaces")
        with self._lock:
            if previous is not None:
                self._change(("retract", space, context, option, previous))
            self._change(("reward", space, context, option, reward))
            self.save()
            return self.posterior(space, context, option)

    def outcome(self, space: str, options: str | Iterable[str], *, ok: bool) -> None:
        """Whether an option could serve (an error or timeout is ``ok=False``): availability only.

        ``options``: one option, or several that stand or fall together (the arms of one store).
        """
        names = (options,) if isinstance(options, str) else _check_options(options)
        with self._lock:
            self._change(("outcome", space, names, bool(ok)))
            if self._autosave_every and len(self._pending) >= self._autosave_every and not self._save_queued:
                if self._defer is None:
                    self.save()
                else:  # a weave's own bookkeeping: the file write goes to the caller's writer thread
                    self._save_queued = True
                    self._defer(self._deferred_save)

    def defer_saves(self, submit: Callable[[Callable[[], None]], None]) -> None:
        """Hand autosaves to ``submit`` (e.g. a writer thread) instead of writing the file in the caller.

        Explicit feedback (:meth:`observe`) and :meth:`close` still save at once.
        """
        self._defer = submit

    def _deferred_save(self) -> None:
        with self._lock:
            self._save_queued = False
            self.save()

    def _change(self, op: _Op) -> None:
        self._apply(self._spaces, op)
        if self.path is not None:
            self._pending.append(op)

    def _apply(self, spaces: dict[str, dict[str, Any]], op: _Op) -> None:
        kind, space = op[0], op[1]
        sp = spaces.setdefault(space, _empty_space())
        if kind == "decision":
            sp["rate"][0] = sp["rate"][0] * self._rate_decay + 1.0
            sp["rate"][1] *= self._rate_decay
        elif kind in ("reward", "retract"):
            _, _, context, option, reward = op
            ctx = sp["contexts"].setdefault(context, {"updates": 0, "options": {}})
            if kind == "reward":
                for ev in ctx["options"].values():
                    ev[0] *= self._discount
                    ev[1] *= self._discount
            sign = 1.0 if kind == "reward" else -1.0
            ev = ctx["options"].setdefault(option, [0.0, 0.0, 0])
            ev[0] = max(0.0, ev[0] + sign * reward)
            ev[1] = max(0.0, ev[1] + sign * (1.0 - reward))
            ev[2] = max(0, ev[2] + int(sign))
            ctx["updates"] = max(0, ctx["updates"] + int(sign))
            sp["rate"][1] = max(0.0, sp["rate"][1] + sign)
        elif kind == "outcome":
            for counts in sp["availability"].values():
                counts[0] *= self._health_discount
                counts[1] *= self._health_discount
            for option in op[2]:
                counts = sp["availability"].setdefault(option, [0.0, 0.0, 0])
                counts[0 if op[3] else 1] += 1.0
                counts[2] += 1

    # -- the state file ----------------------------------------------------------------

    def save(self) -> None:
        """Merge this process's unsaved changes into the state file, and adopt the result."""
        if self.path is not None:
            with self._lock:
                self._save()

    def _save(self, *, forget: str | None = None) -> None:
        assert self.path is not None
        ops = list(self._pending)
        merged: dict[str, Any] = {}

        def merge(disk: dict[str, Any] | None) -> dict[str, Any]:
            spaces = self._parse(disk) if disk is not None and forget != "*" else {}
            spaces.pop(forget or "", None)
            for op in ops:
                self._apply(spaces, op)
            merged["spaces"] = spaces
            return self._dump(spaces)

        update_json(self.path, merge, timeout=self._lock_timeout)
        self._spaces = merged["spaces"]
        del self._pending[: len(ops)]

    def close(self) -> None:
        """Save what is unsaved."""
        if self._pending:
            self.save()

    def reset(self, space: str | None = None) -> None:
        """Forget what was learned: one space, or everything (in the state file too)."""
        with self._lock:
            self._pending = [op for op in self._pending if space is not None and op[1] != space]
            if self.path is None:
                self._spaces = {} if space is None else {k: v for k, v in self._spaces.items() if k != space}
                return
            self._save(forget=space or "*")

    def _dump(self, spaces: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sp in spaces.items():
            out[name] = {
                "contexts": {c: {"updates": v["updates"], "options": {
                    o: {"successes": ev[0], "failures": ev[1], "rewards": ev[2]} for o, ev in v["options"].items()}}
                    for c, v in sp["contexts"].items()},
                "availability": {o: {"ok": c[0], "errors": c[1], "outcomes": c[2]} for o, c in sp["availability"].items()},
                "feedback_rate": {"decisions": sp["rate"][0], "feedbacks": sp["rate"][1]},
            }
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "saved_at": time.time(),
                "settings": {"discount": self._discount, "health_discount": self._health_discount,
                             "explore_decay": self._rate_decay, "delta": self._delta},
                "spaces": out}

    def _parse(self, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        where = self.path or "policy state"
        if data.get("format") != STATE_FORMAT:
            raise RoutingStateError(f"{where}: not a HoloLoom policy state file (format {data.get('format')!r}); "
                                    "delete it to reset what HoloLoom learned")
        if int(data.get("version", 0)) > STATE_VERSION:
            raise RoutingStateError(f"{where}: written by a newer HoloLoom (state version {data.get('version')})")
        spaces: dict[str, dict[str, Any]] = {}
        try:
            for name, sp in (data.get("spaces") or {}).items():
                rate = sp.get("feedback_rate") or {}
                spaces[name] = {
                    "contexts": {c: {"updates": int(v.get("updates", 0)), "options": {
                        o: [_count(ev["successes"]), _count(ev["failures"]), int(ev.get("rewards", 0))]
                        for o, ev in (v.get("options") or {}).items()}}
                        for c, v in (sp.get("contexts") or {}).items()},
                    "availability": {o: [_count(c["ok"]), _count(c["errors"]), int(c.get("outcomes", 0))]
                                     for o, c in (sp.get("availability") or {}).items()},
                    "rate": [_count(rate.get("decisions", 0.0)), _count(rate.get("feedbacks", 0.0))],
                }
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise RoutingStateError(f"{where}: malformed policy state ({exc!r}); delete it to reset") from None
        return spaces

    # -- reporting -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Per space: each context's posteriors, each option's availability, the feedback rate."""
        with self._lock:
            spaces = copy.deepcopy(self._spaces)
        out: dict[str, Any] = {}
        for name, sp in spaces.items():
            decisions, feedbacks = sp["rate"]
            out[name] = {
                "contexts": {c: {o: {"alpha": 1.0 + ev[0], "beta": 1.0 + ev[1], "mean": (1.0 + ev[0]) / (2.0 + ev[0] + ev[1]),
                                     "rewards": ev[2]} for o, ev in v["options"].items()}
                             for c, v in sp["contexts"].items()},
                "availability": {o: {"availability": _availability(sp, o), "ok": c[0], "errors": c[1], "outcomes": c[2]}
                                 for o, c in sp["availability"].items()},
                "feedback_rate": min(1.0, feedbacks / decisions) if decisions > 0 else 0.0,
            }
        return out

    def __repr__(self) -> str:
        return f"Policy(path={str(self.path) if self.path else None!r}, spaces={sorted(self._spaces)})"


def _check_options(options: Iterable[str]) -> tuple[str, ...]:
    if isinstance(options, str):
        raise ValidationError("options must be a sequence of names, not one string")
    out = tuple(options)
    if not out or any(not isinstance(o, str) or not o.strip() for o in out) or len(set(out)) != len(out):
        raise ValidationError(f"options must be unique non-empty strings, got {list(out)!r}")
    return out


def _availability(sp: Mapping[str, Any], option: str) -> float:
    ok, errors, _ = sp["availability"].get(option) or (0.0, 0.0, 0)
    return (1.0 + ok) / (1.0 + ok + errors)


def _mean(p: tuple[float, float]) -> float:
    return p[0] / (p[0] + p[1])


def _count(value: object) -> float:
    out = float(value)  # type: ignore[arg-type]
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"count {value!r}")
    return out
