"""Thompson-sampling bandits, and a router that keeps one per query type on disk.

:class:`ThompsonBandit` (from :mod:`.bandit`) keeps a Beta posterior over each arm's mean
reward; with a discount, old evidence fades so it keeps adapting when an arm changes.

:class:`LearnedRouter` holds one bandit per query type plus an *availability* estimate per
arm shared by all query types. An arm that could not serve a query at all (``success=False``:
the backend raised, timed out) does not teach the quality bandit anything about its
answers; it lowers the arm's availability instead:

    availability = (1 + ok) / (1 + ok + errors)        (ok, errors discounted by ``health_discount``)
    score(arm)   = Thompson draw of quality x availability

Without errors availability is exactly 1 and routing is plain Thompson sampling. When a
backend starts failing, every query type moves off it after a handful of errors; when
the errors have faded (``health_discount`` per routed outcome) the arm's intact quality
posterior gets it tried again, and one success brings it back.

The router's state is saved by arm *name* in one JSON file (see :meth:`LearnedRouter.save`),
written atomically under a file lock with read-merge-write, so several processes can share
it without corrupting it or losing each other's updates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ._statefile import read_json, update_json, write_json_atomic
from .bandit import ThompsonBandit, check_arms, check_discount, check_prior, check_unit
from .errors import RoutingStateError, UnknownQueryTypeError

__all__ = ["Evidence", "LearnedRouter", "STATE_FORMAT", "Selection", "ThompsonBandit"]

STATE_FORMAT = "hololoom.routing.learned"
STATE_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """What :meth:`LearnedRouter.choose` decided, and from what.

    Attributes:
        arm: the chosen arm.
        query_type: the bandit it was drawn from.
        ranking: every arm, best score first (fallbacks if the chosen arm fails).
        scores: each arm's Thompson draw times its availability.
        posterior: each arm's Beta (alpha, beta) at the time of the draw.
        availability: each arm's availability estimate (1.0 = no recent errors).
    """

    arm: str
    query_type: str
    ranking: tuple[str, ...]
    scores: Mapping[str, float]
    posterior: Mapping[str, tuple[float, float]]
    availability: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Evidence:
    """A receipt for evidence added to a quality bandit, so it can be taken back exactly."""

    query_type: str
    arm: str
    reward: float
    at_update: int  # the bandit's update counter right after the evidence was added
    generation: int  # the router's save generation it was added in (see LearnedRouter.save)


class LearnedRouter:
    """One Thompson bandit per query type, an availability estimate per arm, saved on disk.

    Args:
        arms: the arm names, e.g. ``["vector", "graph", "hybrid", "backend:neo4j"]``.
        query_types: the query types (one bandit each).
        store_path: the JSON state file; None keeps everything in memory.
        seed: seeds the sampler.
        discount: per-update discount of the quality bandits (None: never forget). The
            default 0.999 forgets with a half-life of ~700 updates of one query type: slow
            enough to keep stationary routing sharp, fast enough to follow slow drifts.
        prior: Beta prior of every arm.
        optimistic: optimistic Thompson sampling (see :class:`ThompsonBandit`).
        health_discount: per-outcome discount of the availability counts; 0.95 moves
            traffic off a failing arm within about ten errors and retries it after ~20-60
            outcomes elsewhere.
        autosave_every: save after this many unsaved changes (0 or None: only on
            :meth:`save`/:meth:`close`).
        lock_timeout: seconds to wait for another process holding the state file lock.

    Raises:
        RoutingStateError: ``store_path`` exists but is not a routing state file.
    """

    def __init__(
        self,
        arms: Iterable[str],
        query_types: Iterable[str],
        store_path: str | Path | None = None,
        seed: int | None = None,
        discount: float | None = 0.999,
        *,
        prior: Sequence[float] = (1.0, 1.0),
        optimistic: bool = True,
        health_discount: float | None = 0.95,
        autosave_every: int | None = 100,
        lock_timeout: float = 30.0,
    ) -> None:
        self._arms = check_arms(arms)
        types = tuple(query_types) if not isinstance(query_types, str) else None
        if not types or any(not isinstance(t, str) or not t.strip() for t in types) or len(set(types)) != len(types):
            raise ValidationError(f"query_types must be unique non-empty strings, got {query_types!r}")
        self._prior = check_prior(prior)
        self._discount = check_discount(discount)
        self._health_discount = check_discount(health_discount, "health_discount")
        self._optimistic = bool(optimistic)
        if autosave_every is not None and (isinstance(autosave_every, bool) or not isinstance(autosave_every, int) or autosave_every < 0):
            raise ValidationError("autosave_every must be a non-negative integer or None")
        self._autosave_every = autosave_every or 0
        self._lock_timeout = float(lock_timeout)
        self._rng = np.random.default_rng(seed)
        self._bandits: dict[str, ThompsonBandit] = {t: self._new_bandit() for t in types}
        self._ok = np.zeros(len(self._arms))
        self._err = np.zeros(len(self._arms))
        self._health_pulls = np.zeros(len(self._arms), dtype=np.int64)
        self._health_updates = 0
        self._health_inactive: dict[str, dict[str, float]] = {}
        self._avail: np.ndarray | None = None  # cached availability, cleared when ok/err change
        self._other_types: dict[str, Any] = {}  # query types in the file this router does not use
        self._pending: list[tuple[Any, ...]] = []  # changes since the last save, replayed on merge
        self._changes = 0  # outcomes behind those changes (what autosave counts)
        # Receipts stay exact across merges: the save that ends generation g inserts the
        # updates other processes saved meanwhile *before* g's own; remember how many.
        self._generation = 0
        self._inserted: dict[tuple[int, str], int] = {}
        self._lock = threading.RLock()
        self.store_path = Path(store_path) if store_path is not None else None
        if self.store_path is not None:
            data = read_json(self.store_path)
            if data is not None:
                self._load(data)

    def _new_bandit(self) -> ThompsonBandit:
        return ThompsonBandit(self._arms, self._prior, discount=self._discount, optimistic=self._optimistic, rng=self._rng)

    # -- reading -----------------------------------------------------------------------

    @property
    def arms(self) -> tuple[str, ...]:
        return self._arms

    @property
    def query_types(self) -> tuple[str, ...]:
        return tuple(self._bandits)

    def bandit(self, query_type: str) -> ThompsonBandit:
        try:
            return self._bandits[query_type]
        except (KeyError, TypeError):
            raise UnknownQueryTypeError(
                f"unknown query type {query_type!r}: this router has {', '.join(self._bandits)}"
            ) from None

    def availability(self) -> dict[str, float]:
        """Per arm, (1 + ok) / (1 + ok + errors) over recent outcomes; 1.0 means no recent errors."""
        with self._lock:
            return dict(zip(self._arms, self._availability().tolist()))

    def _availability(self) -> np.ndarray:
        if self._avail is None:
            self._avail = (1.0 + self._ok) / (1.0 + self._ok + self._err)
        return self._avail

    def choose(self, query_type: str) -> Selection:
        """Draw from ``query_type``'s bandit, weigh by availability, and say why."""
        with self._lock:
            bandit = self.bandit(query_type)
            avail = self._availability()
            draws, a, b = bandit.draw_with_params()
            scores = (draws * avail).tolist()
            arms = self._arms
            ranking = tuple(sorted(arms, key=dict(zip(arms, (-x for x in scores))).__getitem__))
            return Selection(
                arm=ranking[0],
                query_type=query_type,
                ranking=ranking,
                scores=dict(zip(arms, scores)),
                posterior=dict(zip(arms, zip(a.tolist(), b.tolist()))),
                availability=dict(zip(arms, avail.tolist())),
            )

    def select(self, query_type: str) -> str:
        """The arm to use for a query of ``query_type``."""
        with self._lock:
            bandit = self.bandit(query_type)
            return self._arms[int(np.argmax(bandit.draw() * self._availability()))]

    # -- learning ----------------------------------------------------------------------

    def update(self, query_type: str, arm: str, reward: float, *, success: bool = True) -> Evidence | None:
        """Record one routed query's outcome.

        ``success=True``: the arm served the query and earned ``reward`` (quality bandit of
        ``query_type``); the arm counts as available. ``success=False``: the arm could not
        serve it (an error or timeout); only its availability drops and ``reward`` is ignored.

        Returns:
            An :class:`Evidence` receipt for :meth:`retract`, or None when ``success`` is False.
        """
        with self._lock:
            bandit = self.bandit(query_type)
            bandit._i(arm)
            if success:
                reward = check_unit(reward)
            self._health(arm, bool(success))
            self._record(("health", arm, bool(success)))
            if not success:
                self._maybe_autosave()
                return None
            bandit.update(arm, reward)
            self._record(("update", query_type, arm, reward))
            receipt = Evidence(query_type, arm, reward, bandit.updates, self._generation)
            self._maybe_autosave()
            return receipt

    def add_evidence(self, query_type: str, arm: str, reward: float) -> Evidence:
        """Add one observation at full weight without a discount step (for late explicit feedback)."""
        with self._lock:
            bandit = self.bandit(query_type)
            reward = check_unit(reward)
            bandit.adjust(arm, successes=reward, failures=1.0 - reward)
            self._record(("adjust", query_type, arm, reward, 1.0 - reward))
            receipt = Evidence(query_type, arm, reward, bandit.updates, self._generation)
            self._maybe_autosave()
            return receipt

    def retract(self, evidence: Evidence) -> None:
        """Take back what ``evidence`` added, as much of it as the discount has left."""
        with self._lock:
            bandit = self.bandit(evidence.query_type)
            at = evidence.at_update + self._inserted.get((evidence.generation, evidence.query_type), 0)
            weight = bandit.decay_factor(at)
            ds, df = -evidence.reward * weight, -(1.0 - evidence.reward) * weight
            bandit.adjust(evidence.arm, successes=ds, failures=df)
            self._record(("adjust", evidence.query_type, evidence.arm, ds, df))
            self._maybe_autosave()

    def _health(self, arm: str, ok: bool) -> None:
        self._avail = None
        i = self._arms.index(arm)
        if self._health_discount is not None:
            self._ok *= self._health_discount
            self._err *= self._health_discount
        if ok:
            self._ok[i] += 1.0
        else:
            self._err[i] += 1.0
        self._health_pulls[i] += 1
        self._health_updates += 1

    def _record(self, op: tuple[Any, ...]) -> None:
        if self.store_path is not None:
            self._pending.append(op)

    def _maybe_autosave(self) -> None:
        if self.store_path is None:
            return
        self._changes += 1
        if self._autosave_every and self._changes >= self._autosave_every:
            self.save()

    @property
    def unsaved(self) -> int:
        """Outcomes (updates, added or retracted evidence) not yet written to the state file."""
        return self._changes

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole learned state, by arm name, as saved in the state file."""
        with self._lock:
            types: dict[str, Any] = dict(self._other_types)
            types.update({t: b.to_dict() for t, b in self._bandits.items()})
            health = {name: dict(v) for name, v in self._health_inactive.items()}
            for i, arm in enumerate(self._arms):
                health[arm] = {"ok": float(self._ok[i]), "errors": float(self._err[i]), "pulls": int(self._health_pulls[i])}
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "saved_at": time.time(),
                "settings": {"prior": list(self._prior), "discount": self._discount,
                             "health_discount": self._health_discount, "arms": list(self._arms)},
                "query_types": types,
                "availability": {"updates": self._health_updates, "arms": health},
            }

    def _load(self, data: Mapping[str, Any]) -> None:
        where = str(self.store_path) if self.store_path is not None else "routing state"
        if data.get("format") != STATE_FORMAT:
            raise RoutingStateError(f"{where}: not a HoloLoom routing state file (format {data.get('format')!r})")
        if int(data.get("version", 0)) > STATE_VERSION:
            raise RoutingStateError(f"{where}: written by a newer HoloLoom (state version {data.get('version')})")
        types = data.get("query_types") or {}
        health = data.get("availability") or {}
        if not isinstance(types, Mapping) or not isinstance(health, Mapping):
            raise RoutingStateError(f"{where}: malformed routing state")
        self._other_types = {t: v for t, v in types.items() if t not in self._bandits}
        for t, bandit in self._bandits.items():
            if t in types:
                try:
                    bandit.load_dict(types[t])
                except RoutingStateError as exc:
                    raise RoutingStateError(f"{where}: query type {t!r}: {exc}") from None
            else:
                bandit.reset()
        self._avail = None
        self._ok[:] = 0.0
        self._err[:] = 0.0
        self._health_pulls[:] = 0
        self._health_inactive = {}
        self._health_updates = int(health.get("updates", 0))
        for name, v in (health.get("arms") or {}).items():
            try:
                rec = {"ok": max(0.0, float(v.get("ok", 0.0))), "errors": max(0.0, float(v.get("errors", 0.0))),
                       "pulls": max(0, int(v.get("pulls", 0)))}
            except (AttributeError, TypeError, ValueError):
                raise RoutingStateError(f"{where}: availability of arm {name!r} is malformed") from None
            if name in self._arms:
                i = self._arms.index(name)
                self._ok[i], self._err[i], self._health_pulls[i] = rec["ok"], rec["errors"], rec["pulls"]
            else:
                self._health_inactive[name] = rec

    def _replay(self, ops: Sequence[tuple[Any, ...]]) -> None:
        for op in ops:
            kind = op[0]
            if kind == "update":
                self._bandits[op[1]].update(op[2], op[3])
            elif kind == "adjust":
                self._bandits[op[1]].adjust(op[2], successes=op[3], failures=op[4])
            elif kind == "health":
                self._health(op[1], op[2])

    def save(self) -> None:
        """Merge this router's unsaved changes into the state file, and adopt the result.

        Under the file lock: read what is on disk now (other processes may have saved
        since), replay this router's changes since its last save on top of it (each update
        with its discount step, as if it had happened after theirs), write atomically, and
        continue from the merged state. Nothing is lost and nothing is counted twice.
        """
        if self.store_path is None:
            return
        with self._lock:
            ops = list(self._pending)
            local_updates = {t: b.updates for t, b in self._bandits.items()}

            def merge(disk: dict[str, Any] | None) -> dict[str, Any]:
                if disk is None:
                    self._clear()
                else:
                    self._load(disk)
                self._replay(ops)
                return self.to_dict()

            try:
                update_json(self.store_path, merge, timeout=self._lock_timeout)
            except BaseException:
                # Local state may be half-merged: rebuild it from disk plus the pending changes.
                disk = read_json(self.store_path)
                if disk is not None:
                    self._load(disk)
                self._replay(ops)
                raise
            self._pending.clear()
            self._changes = 0
            for t, b in self._bandits.items():
                inserted = b.updates - local_updates[t]
                if inserted:
                    self._inserted[(self._generation, t)] = inserted
            self._generation += 1
            if len(self._inserted) > 4096:  # receipts that old have decayed or been settled
                for key in sorted(self._inserted)[:2048]:
                    del self._inserted[key]

    def reload(self) -> None:
        """Pick up what other processes saved (this router's own unsaved changes are merged in)."""
        self.save()

    def reset(self, query_type: str | None = None) -> None:
        """Forget what was learned: one query type's bandit, or everything (on disk too).

        Other processes sharing the file keep their own unsaved changes, which their next
        save merges in as usual.
        """
        with self._lock:
            if query_type is None:
                self._clear()
                self._pending.clear()
                self._changes = 0
                if self.store_path is not None:
                    update_json(self.store_path, lambda _disk: self.to_dict(), timeout=self._lock_timeout)
                return
            self.bandit(query_type).reset()
            if self.store_path is None:
                return
            ops = [op for op in self._pending if not (op[0] in ("update", "adjust") and op[1] == query_type)]

            def drop_one(disk: dict[str, Any] | None) -> dict[str, Any]:
                if disk is None:
                    self._clear()
                else:
                    self._load(disk)
                self.bandit(query_type).reset()
                self._replay(ops)
                return self.to_dict()

            update_json(self.store_path, drop_one, timeout=self._lock_timeout)
            self._pending.clear()
            self._changes = 0

    def _clear(self) -> None:
        for b in self._bandits.values():
            b.reset()
        self._avail = None
        self._ok[:] = 0.0
        self._err[:] = 0.0
        self._health_pulls[:] = 0
        self._health_updates = 0
        self._health_inactive = {}
        self._other_types = {}

    def close(self) -> None:
        """Save unsaved changes."""
        if self._pending or self._changes:
            self.save()

    # -- arms and query types come and go -------------------------------------------------

    def add_query_type(self, query_type: str) -> None:
        """Start learning for a new query type (what was saved for it before comes back)."""
        with self._lock:
            if not isinstance(query_type, str) or not query_type.strip():
                raise ValidationError(f"query types must be non-empty strings, got {query_type!r}")
            if query_type in self._bandits:
                return
            bandit = self._new_bandit()
            saved = self._other_types.pop(query_type, None)
            if saved is not None:
                bandit.load_dict(saved)
            self._bandits[query_type] = bandit

    def stats(self) -> dict[str, Any]:
        """Per query type and arm: alpha, beta, mean, P(best), pulls; per arm: availability."""
        with self._lock:
            avail = self._availability()
            return {
                "query_types": {t: b.stats() for t, b in self._bandits.items()},
                "availability": {
                    arm: {"availability": round(float(avail[i]), 6), "ok": round(float(self._ok[i]), 6),
                          "errors": round(float(self._err[i]), 6), "outcomes": int(self._health_pulls[i])}
                    for i, arm in enumerate(self._arms)
                },
                "discount": self._discount,
                "health_discount": self._health_discount,
                "unsaved": self._changes,
                "store_path": str(self.store_path) if self.store_path is not None else None,
            }

    def write_snapshot(self, path: str | Path) -> None:
        """Write the current state to ``path`` (a backup; not merged, not locked)."""
        with self._lock:
            write_json_atomic(path, self.to_dict())
