"""Everything the dashboard shows, as plain data, from :class:`~.data.WeaveRow` projections.

:func:`summarize` is pure and cheap (one refresh over 1,000 weaves is timed by the unit
tests); each part of the page is one small function here.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..rendering import plotly_text
from .data import WeaveRow, beta_summary, clock

__all__ = ["LEVELS", "summarize"]

LEVELS = ("LITE", "FAST", "FULL", "RESEARCH")
_BINS = 20
_ROLLING = 20


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return float(sorted_values[idx])


def _time_bins(times: Sequence[float], bins: int) -> tuple[list[float], list[int]]:
    """Equal-width bins over the records' time span: bin starts, and each record's bin."""
    t0, t1 = min(times), max(times)
    width = (t1 - t0) / bins if t1 > t0 else 1.0
    n = bins if t1 > t0 else 1
    idx = [min(n - 1, int((t - t0) / width)) for t in times]
    return [t0 + i * width for i in range(n)], idx


def _latency(rows: Sequence[WeaveRow]) -> dict[str, Any]:
    """Latency per level and mean stage time per level."""
    latency: dict[str, list[float]] = {}
    stage_sum: dict[str, dict[str, list[float]]] = {}
    stage_order: list[str] = []
    for r in rows:
        latency.setdefault(r.level, []).append(round(r.ms, 3))
        sums = stage_sum.setdefault(r.level, {})
        for name, ms in r.stages:
            acc = sums.get(name)
            if acc is None:
                acc = sums[name] = [0.0, 0]
                if name not in stage_order:
                    stage_order.append(name)
            acc[0] += ms
            acc[1] += 1
    levels = [lv for lv in LEVELS if lv in latency] + sorted(set(latency) - set(LEVELS))
    stats = {}
    for lv in levels:
        vals = sorted(latency[lv])
        stats[lv] = {"n": len(vals), "p50": round(_percentile(vals, 0.5), 2), "p95": round(_percentile(vals, 0.95), 2)}
    means = {lv: {name: round(stage_sum[lv][name][0] / stage_sum[lv][name][1], 3) if name in stage_sum[lv] else 0.0
                  for name in stage_order} for lv in levels}
    return {"levels": levels, "latency": {lv: latency[lv] for lv in levels}, "latency_stats": stats,
            "stage_order": stage_order, "stage_means": means, "complexity": {lv: len(latency[lv]) for lv in levels}}


def _confidence(rows: Sequence[WeaveRow]) -> dict[str, Any]:
    conf = [r.confidence for r in rows]
    rolling, acc = [], 0.0
    for i, c in enumerate(conf):
        acc += c - (conf[i - _ROLLING] if i >= _ROLLING else 0.0)
        rolling.append(round(acc / min(i + 1, _ROLLING), 4))
    return {"x": [r.clock for r in rows], "y": conf, "rolling": rolling, "text": [plotly_text(r.query, 60) for r in rows]}


def _over_time(rows: Sequence[WeaveRow]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arm selection and outcomes in equal time bins."""
    arm_names = sorted({r.arm for r in rows})
    arms_time: dict[str, Any] = {"x": [], "arms": {a: [] for a in arm_names}}
    outcomes: dict[str, Any] = {"x": [], "ok": [], "degraded": [], "error": []}
    if rows:
        starts, idx = _time_bins([r.t for r in rows], _BINS)
        per_arm: list[Counter[str]] = [Counter() for _ in starts]
        per_status: list[Counter[str]] = [Counter() for _ in starts]
        for b, r in zip(idx, rows):
            per_arm[b][r.arm] += 1
            per_status[b][r.status] += 1
        arms_time["x"] = outcomes["x"] = [clock(t) for t in starts]
        for a in arm_names:
            arms_time["arms"][a] = [c[a] for c in per_arm]
        for st in ("ok", "degraded", "error"):
            outcomes[st] = [c[st] for c in per_status]
    return arms_time, outcomes


def _routing(rows: Sequence[WeaveRow]) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Arm selection per query type, and the latest arm posteriors each query type's decisions carried."""
    by_type: dict[str, Counter[str]] = {}
    posteriors: dict[str, dict[str, dict[str, float]]] = {}
    for r in rows:
        by_type.setdefault(r.query_type, Counter())[r.arm] += 1
        if r.posterior:
            posteriors[r.query_type] = r.posterior  # the latest decision's view of its type
    return {qt: dict(sorted(c.items())) for qt, c in sorted(by_type.items())}, dict(sorted(posteriors.items()))


def _tool_posteriors(tool_state: Mapping[str, Any]) -> tuple[dict[str, Any], float, float]:
    """Per intent and tool, the posterior from feedback; and the feedback's total and reward sum."""
    posts: dict[str, dict[str, dict[str, float]]] = {}
    total = reward = 0.0
    for intent, tools in sorted(tool_state.items()):
        posts[intent] = {}
        for tool, (a, b) in sorted(tools.items()):
            total += a + b
            reward += a
            posts[intent][tool] = beta_summary(1.0 + a, 1.0 + b)  # the policy's prior is Beta(1, 1)
    return posts, total, reward


def _process(rows: Sequence[WeaveRow]) -> dict[str, Any]:
    """Memory count per namespace and resident memory per process, over time."""
    proc: dict[str, Any] = {"memory": {}, "rss": {}}
    for r in rows:
        if r.memory_count is not None:
            series = proc["memory"].setdefault(r.namespace, {"x": [], "y": []})
            series["x"].append(r.clock)
            series["y"].append(r.memory_count)
        if r.rss_mb is not None:
            series = proc["rss"].setdefault(r.pid or "?", {"x": [], "y": []})
            series["x"].append(r.clock)
            series["y"].append(r.rss_mb)
    return proc


def _kpis(rows: Sequence[WeaveRow], rewards: Mapping[str, float], has_feedback: bool, bandit: tuple[float, float]
          ) -> dict[str, Any]:
    n = len(rows)
    statuses = Counter(r.status for r in rows)
    durations = sorted(r.ms for r in rows)
    last = rows[-1] if n else None
    fb_total, fb_reward = bandit
    return {
        "weaves": n,
        "success_rate": round(statuses["ok"] / n, 4) if n else None,
        "degraded": statuses["degraded"],
        "errors": statuses["error"],
        "p50_ms": round(_percentile(durations, 0.5), 1) if n else None,
        "p95_ms": round(_percentile(durations, 0.95), 1) if n else None,
        "mean_confidence": round(statistics.fmean(r.confidence for r in rows), 3) if n else None,
        "feedback_weaves": len(rewards),
        "feedback_rate": round(len(rewards) / n, 4) if n and has_feedback else None,
        "feedback_mean_reward": round(statistics.fmean(rewards.values()), 3) if rewards else None,
        "bandit_feedback": round(fb_total, 3),
        "bandit_mean_reward": round(fb_reward / fb_total, 3) if fb_total else None,
        "memory_count": last.memory_count if last else None,
        "rss_mb": last.rss_mb if last else None,
        "processes": len({r.pid for r in rows} - {None}),
        "span_s": round(rows[-1].t - rows[0].t, 1) if n else 0.0,
    }


def summarize(records: Sequence[Mapping[str, Any] | WeaveRow], *, tool_state: Mapping[str, Any] | None = None,
              feedback: Sequence[Mapping[str, Any]] = (), table_rows: int = 100) -> dict[str, Any]:
    """Everything the dashboard shows, as plain data (JSON-ready), from weaves oldest first.

    Args:
        records: weave-log records (:func:`~.data.load_records`; those that are not a
            Spacetime are skipped), or their :class:`~.data.WeaveRow` projections.
        tool_state: the tool posteriors' evidence (:func:`~.data.load_tool_state`).
        feedback: feedback events naming weaves (:func:`~.data.load_feedback`).
        table_rows: how many of the newest weaves the recent-queries table lists.
    """
    rows = [r for r in (r if isinstance(r, WeaveRow) else WeaveRow.of(r) for r in records) if r is not None]
    ids = {r.id for r in rows}
    rewards = {e["spacetime_id"]: e["reward"] for e in feedback if e.get("spacetime_id") in ids}
    tool_post, fb_total, fb_reward = _tool_posteriors(tool_state or {})
    arms_time, outcomes = _over_time(rows)
    arms_type, routing_posteriors = _routing(rows)
    table = [{"id": r.id, "time": r.clock[11:19], "query": r.query[:120], "level": r.level, "arm": r.arm,
              "query_type": r.query_type, "tool": r.tool, "confidence": round(r.confidence, 3), "ms": round(r.ms, 1),
              "status": r.status, "feedback": rewards.get(r.id, "")} for r in rows[::-1][:table_rows]]
    return {
        "count": len(rows), "kpis": _kpis(rows, rewards, bool(feedback), (fb_total, fb_reward)), **_latency(rows),
        "confidence": _confidence(rows), "arms_time": arms_time, "arms_type": arms_type,
        "routing_posteriors": routing_posteriors, "tool_posteriors": tool_post, "outcomes": outcomes,
        "process": _process(rows), "table": table,
    }
