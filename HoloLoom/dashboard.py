"""The Dash dashboard: live views of the last 1,000 weaves of every HoloLoom process on a home.

It reads only what running processes record under ``HOLOLOOM_HOME``, so it works beside a
terminal UI, a server or a script in another process:

    HOME/state/weaves.jsonl        one whole Spacetime per line, plus process figures
                                   (:class:`~HoloLoom.weaving.WeaveLog`)
    HOME/state/policy.json         the learning policy: tool and arm evidence from feedback
    HOME/state/feedback.jsonl      feedback events {"spacetime_id", "reward", "timestamp"},
    HOME/routing/routing_metrics.jsonl  and learned routing's ``"kind": "feedback"`` lines,
                                   where they exist

Data shaping is pure and cheap (:func:`load_records`, :func:`summarize`, :func:`build_figures`)
so one refresh over 1,000 records is measured by the unit tests; the Dash layer
(:func:`create_app`) only lays the results out. Figures are plain plotly.js dicts, which skips
plotly's Python-side validation on every refresh.

    python -c "from HoloLoom.dashboard import start_dashboard; start_dashboard()"
"""

from __future__ import annotations

import json
import math
import os
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .errors import MissingDependencyError
from .rendering import inert, plotly_text
from .weaving.weave_log import WeaveLog

__all__ = ["RecordCache", "WeaveRow", "build_figures", "create_app", "load_feedback", "load_records", "load_tool_state",
           "refresh", "start_dashboard", "summarize", "trace_view"]

LEVELS = ("LITE", "FAST", "FULL", "RESEARCH")
GRAPHS = {  # component id -> title; the order is the page's order
    "latency": "Latency by level (ms)",
    "stage-latency": "Mean stage time by level (ms)",
    "confidence": "Confidence trend",
    "complexity": "Complexity distribution",
    "arms-time": "Backend / arm selection over time",
    "arms-type": "Arm selection per query type",
    "routing-posterior": "Routing posterior per query type (mean ± sd)",
    "tool-posterior": "Tool bandit posterior per intent (mean ± sd)",
    "outcomes": "Success / degraded / error over time",
    "process": "Memory count and process memory",
}
EMPTY_HINT = ("No weaves recorded yet in {path}. Ask something in a process using this HOLOLOOM_HOME: "
              "`hololoom ask \"...\"` or `await loom.weave(...)`; this page refreshes by itself.")
_COLORS = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B"]
_STATUS_COLORS = {"ok": "#54A24B", "degraded": "#F2A93B", "error": "#E45756"}
_BINS = 20
_TAIL_BYTES = 4 * 2**20
_RELOAD_BYTES = 32 * 2**20


# -- reading ---------------------------------------------------------------------------


def weave_log_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / "state" / "weaves.jsonl"


def load_records(home: str | os.PathLike[str], n: int = 1000) -> list[dict[str, Any]]:
    """The last ``n`` weave records under ``home``, oldest first (none when nothing is logged)."""
    return WeaveLog(weave_log_path(home)).tail(n)


def load_tool_state(home: str | os.PathLike[str]) -> dict[str, dict[str, list[float]]]:
    """The policy's tool evidence from feedback, ``{intent: {tool: [successes, failures]}}`` (priors excluded)."""
    path = Path(home) / "state" / "policy.json"
    try:
        contexts = json.loads(path.read_text(encoding="utf-8"))["spaces"]["tool"]["contexts"]
        return {str(i): {str(t): [float(ev["successes"]), float(ev["failures"])] for t, ev in c["options"].items()}
                for i, c in contexts.items()}
    except (OSError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        return {}


def _feedback_files(home: Path) -> list[Path]:
    # The orchestrator writes every feedback to state/feedback.jsonl; the routing metrics
    # hold the same events (learned routing), so they are read only for older homes.
    own = home / "state" / "feedback.jsonl"
    if own.exists():
        return [own]
    return [home / "routing" / "routing_metrics.jsonl", home / "state" / "routing_metrics.jsonl"]


def load_feedback(home: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Feedback events naming a weave: ``{"spacetime_id", "reward", "timestamp"}``, from the last MiBs of each file."""
    events: list[dict[str, Any]] = []
    for path in _feedback_files(Path(home)):
        try:
            with path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - _TAIL_BYTES))
                chunk = fh.read()
        except OSError:
            continue
        is_routing = path.name == "routing_metrics.jsonl"
        for raw in chunk.split(b"\n"):
            if b"spacetime_id" not in raw or (is_routing and b"feedback" not in raw):
                continue
            try:
                rec = json.loads(raw)
                if is_routing and rec.get("kind") != "feedback":
                    continue
                if rec.get("spacetime_id"):
                    events.append({"spacetime_id": str(rec["spacetime_id"]), "reward": float(rec.get("reward", 0.0)),
                                   "timestamp": rec.get("timestamp")})
            except (ValueError, TypeError, AttributeError):
                continue
    return events


def _signature(home: Path) -> str:
    """What changes when anything the dashboard reads changes (size and mtime of each file).

    A string: it round-trips through the browser, where integers past 2**53 (nanosecond mtimes) would not.
    """
    out: list[str] = []
    log = weave_log_path(home)
    for path in (log, log.with_suffix(".1.jsonl"), home / "state" / "policy.json", *_feedback_files(home)):
        try:
            st = path.stat()
            out.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append("-")
    return "|".join(out)


# -- shaping ---------------------------------------------------------------------------


def _status(rec: Mapping[str, Any]) -> str:
    if rec.get("errors"):
        return "error"
    return "degraded" if rec.get("degraded") else "ok"


def _query_type(rec: Mapping[str, Any]) -> str:
    """Learned routing's query type; before it records one, the query's intent (stage 4)."""
    qtype = (rec.get("routing") or {}).get("query_type")
    if qtype:
        return str(qtype)
    for stage in rec.get("stages") or ():
        if stage.get("stage") == "features":
            intent = (stage.get("data") or {}).get("intent")
            if intent:
                return f"intent:{intent}"
    return "unknown"


def _arm(rec: Mapping[str, Any]) -> str:
    return str((rec.get("routing") or {}).get("arm") or rec.get("backend") or "unknown")


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return float(sorted_values[idx])


def _clock(ts: float) -> str:
    """A local time plotly reads as a date (the page is served on this machine)."""
    t = time.localtime(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{int((ts % 1) * 1000):03d}"


def _beta_summary(alpha: float, beta: float) -> dict[str, float]:
    n = alpha + beta
    mean = alpha / n if n > 0 else 0.0
    sd = math.sqrt(alpha * beta / (n * n * (n + 1))) if n > 0 else 0.0
    return {"alpha": round(alpha, 4), "beta": round(beta, 4), "mean": round(mean, 4), "sd": round(sd, 4)}


@dataclass(frozen=True, slots=True)
class WeaveRow:
    """What the dashboard needs of one weave record, projected once when the record is read."""

    id: str
    t: float
    clock: str
    query: str
    level: str
    arm: str
    query_type: str
    tool: str
    confidence: float
    ms: float
    status: str
    stages: tuple[tuple[str, float], ...]
    pid: str | None
    rss_mb: float | None
    memory_count: int | None
    posterior: dict[str, dict[str, float]] | None
    namespace: str = "default"

    @classmethod
    def of(cls, rec: Mapping[str, Any]) -> "WeaveRow":
        t = float(rec.get("created_at") or 0.0)
        proc = rec.get("process") or {}
        stages = tuple((str(s.get("loom_name") or s.get("stage")), float(s.get("duration_ms") or 0.0))
                       for s in rec.get("stages") or () if isinstance(s, Mapping))
        return cls(id=str(rec.get("id")), t=t, clock=_clock(t), query=inert(rec.get("query", ""), keep_newlines=False),
                   level=str(rec.get("complexity") or "unknown"), arm=_arm(rec), query_type=_query_type(rec),
                   tool=str(rec.get("tool") or ""), confidence=float(rec.get("confidence") or 0.0),
                   ms=float(rec.get("duration_ms") or 0.0), status=_status(rec), stages=stages,
                   pid=None if proc.get("pid") is None else str(proc["pid"]),
                   rss_mb=None if proc.get("rss_mb") is None else float(proc["rss_mb"]),
                   memory_count=proc.get("memory_count"), posterior=_posterior_of(rec.get("routing") or {}),
                   namespace=str(rec.get("namespace") or "default"))


def _posterior_of(routing: Mapping[str, Any]) -> dict[str, dict[str, float]] | None:
    """The arms' Beta posteriors a routing decision carries, if it carries any (learned routing does)."""
    post = routing.get("posterior")
    if isinstance(post, Mapping) and post:
        try:
            return {str(arm): _beta_summary(float(ab[0]), float(ab[1])) for arm, ab in post.items()}
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    means = routing.get("posterior_means")
    if isinstance(means, Mapping) and means:
        try:
            return {str(arm): {"mean": round(float(m), 4), "sd": 0.0} for arm, m in means.items()}
        except (TypeError, ValueError):
            pass
    return None


class RecordCache:
    """The last ``n`` rows of a weave log, each line parsed once: a refresh reads only what was appended.

    A log that was rotated (a new file) or shrank is read again from its tail.
    """

    def __init__(self, path: str | os.PathLike[str], n: int = 1000) -> None:
        self.path = Path(path)
        self.n = n
        self._rows: deque[WeaveRow] = deque(maxlen=n)
        self._file: tuple[int, int, bytes] | None = None  # device, inode, first bytes: which file was read
        self._offset = 0
        self._lock = threading.Lock()

    def rows(self) -> list[WeaveRow]:
        with self._lock:
            try:
                st = self.path.stat()
            except OSError:
                self._rows.clear()
                self._file, self._offset = None, 0
                return []
            if self._file != _identity(self.path, st) or st.st_size < self._offset:
                self._reload()
            elif st.st_size > self._offset:
                with self.path.open("rb") as fh:
                    fh.seek(self._offset)
                    chunk = fh.read()
                end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next refresh
                self._offset += end
                for raw in chunk[:end].split(b"\n"):
                    row = _parse_row(raw)
                    if row is not None:
                        self._rows.append(row)
            return list(self._rows)

    def _reload(self) -> None:
        self._rows.clear()
        try:
            with self.path.open("rb") as fh:
                st = os.fstat(fh.fileno())
                start = max(0, st.st_size - _RELOAD_BYTES)
                fh.seek(start)
                chunk = fh.read()
        except OSError:
            self._file, self._offset = None, 0
            return
        end = chunk.rfind(b"\n") + 1
        self._file, self._offset = _identity(self.path, st), start + end
        lines = chunk[:end].split(b"\n")
        if start > 0:
            lines = lines[1:]  # cut by the seek
        newest: list[WeaveRow] = []
        for raw in reversed(lines):
            row = _parse_row(raw)
            if row is not None:
                newest.append(row)
                if len(newest) >= self.n:
                    break
        if len(newest) < self.n:  # the rest from the rotated file
            older = WeaveLog(self.path.with_suffix(".1.jsonl")).tail(self.n - len(newest))
            self._rows.extend(WeaveRow.of(r) for r in older if isinstance(r, Mapping) and r.get("id"))
        self._rows.extend(reversed(newest))


def _identity(path: Path, st: os.stat_result) -> tuple[int, int, bytes]:
    """A file's identity: its inode, and its first bytes (each line starts with a unique id), as inodes are reused."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        head = b""
    return st.st_dev, st.st_ino, head


def _parse_row(raw: bytes) -> WeaveRow | None:
    if not raw.strip():
        return None
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return WeaveRow.of(rec) if isinstance(rec, Mapping) and rec.get("id") else None


def _time_bins(times: Sequence[float], bins: int) -> tuple[list[float], list[int]]:
    """Equal-width bins over the records' time span: bin starts, and each record's bin."""
    t0, t1 = min(times), max(times)
    width = (t1 - t0) / bins if t1 > t0 else 1.0
    n = bins if t1 > t0 else 1
    idx = [min(n - 1, int((t - t0) / width)) for t in times]
    return [t0 + i * width for i in range(n)], idx


def summarize(records: Sequence[Mapping[str, Any] | WeaveRow], *, tool_state: Mapping[str, Any] | None = None,
              feedback: Sequence[Mapping[str, Any]] = (), table_rows: int = 100) -> dict[str, Any]:
    """Everything the dashboard shows, as plain data (JSON-ready), from weave records oldest first.

    Args:
        records: weave log records (:func:`load_records`), or their :class:`WeaveRow` projections.
        tool_state: the tool bandit's counts (:func:`load_tool_state`).
        feedback: feedback events naming weaves (:func:`load_feedback`).
        table_rows: how many of the newest weaves the recent-queries table lists.
    """
    rows = [r if isinstance(r, WeaveRow) else WeaveRow.of(r) for r in records
            if isinstance(r, WeaveRow) or (isinstance(r, Mapping) and r.get("id"))]
    n = len(rows)

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
    level_order = [lv for lv in LEVELS if lv in latency] + sorted(set(latency) - set(LEVELS))
    latency_stats = {}
    for lv in level_order:
        vals = sorted(latency[lv])
        latency_stats[lv] = {"n": len(vals), "p50": round(_percentile(vals, 0.5), 2),
                             "p95": round(_percentile(vals, 0.95), 2)}
    stage_means = {lv: {name: round(stage_sum[lv][name][0] / stage_sum[lv][name][1], 3) if name in stage_sum[lv] else 0.0
                        for name in stage_order} for lv in level_order}

    conf = [r.confidence for r in rows]
    window, rolling, acc_c = 20, [], 0.0
    for i, c in enumerate(conf):
        acc_c += c - (conf[i - window] if i >= window else 0.0)
        rolling.append(round(acc_c / min(i + 1, window), 4))

    arm_names = sorted({r.arm for r in rows})
    arms_time: dict[str, Any] = {"x": [], "arms": {a: [] for a in arm_names}}
    outcomes: dict[str, Any] = {"x": [], "ok": [], "degraded": [], "error": []}
    if n:
        starts, idx = _time_bins([r.t for r in rows], _BINS)
        per_bin_arm = [Counter() for _ in starts]
        per_bin_status = [Counter() for _ in starts]
        for b, r in zip(idx, rows):
            per_bin_arm[b][r.arm] += 1
            per_bin_status[b][r.status] += 1
        arms_time["x"] = outcomes["x"] = [_clock(t) for t in starts]
        for a in arm_names:
            arms_time["arms"][a] = [c[a] for c in per_bin_arm]
        for st in ("ok", "degraded", "error"):
            outcomes[st] = [c[st] for c in per_bin_status]

    by_type: dict[str, Counter[str]] = {}
    posteriors: dict[str, dict[str, dict[str, float]]] = {}
    for r in rows:
        by_type.setdefault(r.query_type, Counter())[r.arm] += 1
        if r.posterior:
            posteriors[r.query_type] = r.posterior  # the latest decision's view of its type
    arms_type = {qt: dict(sorted(c.items())) for qt, c in sorted(by_type.items())}

    tool_post: dict[str, dict[str, dict[str, float]]] = {}
    fb_total = fb_reward = 0.0
    for intent, tools in sorted((tool_state or {}).items()):
        tool_post[intent] = {}
        for tool, (a, b) in sorted(tools.items()):
            fb_total += a + b
            fb_reward += a
            tool_post[intent][tool] = _beta_summary(1.0 + a, 1.0 + b)  # the policy's prior is Beta(1, 1)

    ids = {r.id for r in rows}
    matched = [e for e in feedback if e.get("spacetime_id") in ids]
    rewards = {e["spacetime_id"]: e["reward"] for e in matched}

    proc: dict[str, Any] = {"memory": {}, "rss": {}}  # memory count per namespace, RSS per process
    for r in rows:
        if r.memory_count is not None:
            series = proc["memory"].setdefault(r.namespace, {"x": [], "y": []})
            series["x"].append(r.clock)
            series["y"].append(r.memory_count)
        if r.rss_mb is not None:
            series = proc["rss"].setdefault(r.pid or "?", {"x": [], "y": []})
            series["x"].append(r.clock)
            series["y"].append(r.rss_mb)

    statuses = Counter(r.status for r in rows)
    durations = sorted(r.ms for r in rows)
    last = rows[-1] if n else None
    kpis = {
        "weaves": n,
        "success_rate": round(statuses["ok"] / n, 4) if n else None,
        "degraded": statuses["degraded"],
        "errors": statuses["error"],
        "p50_ms": round(_percentile(durations, 0.5), 1) if n else None,
        "p95_ms": round(_percentile(durations, 0.95), 1) if n else None,
        "mean_confidence": round(statistics.fmean(conf), 3) if n else None,
        "feedback_weaves": len(rewards),
        "feedback_rate": round(len(rewards) / n, 4) if n and feedback else None,
        "feedback_mean_reward": round(statistics.fmean(rewards.values()), 3) if rewards else None,
        "bandit_feedback": round(fb_total, 3),
        "bandit_mean_reward": round(fb_reward / fb_total, 3) if fb_total else None,
        "memory_count": last.memory_count if last else None,
        "rss_mb": last.rss_mb if last else None,
        "processes": len({r.pid for r in rows} - {None}),
        "span_s": round(rows[-1].t - rows[0].t, 1) if n else 0.0,
    }

    table = [{"id": r.id, "time": r.clock[11:19], "query": r.query[:120], "level": r.level, "arm": r.arm,
              "query_type": r.query_type, "tool": r.tool, "confidence": round(r.confidence, 3), "ms": round(r.ms, 1),
              "status": r.status, "feedback": rewards.get(r.id, "")} for r in rows[::-1][:table_rows]]

    return {
        "count": n, "kpis": kpis, "levels": level_order,
        "latency": {lv: latency[lv] for lv in level_order}, "latency_stats": latency_stats,
        "stage_order": stage_order, "stage_means": stage_means,
        "confidence": {"x": [r.clock for r in rows], "y": conf, "rolling": rolling, "text": [plotly_text(r.query, 60) for r in rows]},
        "complexity": {lv: len(latency[lv]) for lv in level_order},
        "arms_time": arms_time, "arms_type": arms_type,
        "routing_posteriors": dict(sorted(posteriors.items())), "tool_posteriors": tool_post,
        "outcomes": outcomes, "process": proc, "table": table,
    }


# -- figures (plotly.js dicts) -----------------------------------------------------------


def _layout(**extra: Any) -> dict[str, Any]:
    base = {"margin": {"l": 50, "r": 20, "t": 10, "b": 40}, "height": 280, "paper_bgcolor": "white",
            "plot_bgcolor": "#FAFAFC", "font": {"size": 11}, "legend": {"orientation": "h", "y": -0.2},
            "uirevision": "keep"}
    base.update(extra)
    return base


def _empty(text: str) -> dict[str, Any]:
    return {"data": [], "layout": _layout(xaxis={"visible": False}, yaxis={"visible": False}, annotations=[
        {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
         "font": {"size": 12, "color": "#777"}}])}


def _posterior_figure(posts: Mapping[str, Mapping[str, Mapping[str, float]]], empty: str,
                      colors: Mapping[str, str] | None = None) -> dict[str, Any]:
    if not posts:
        return _empty(empty)
    names = sorted({a for arms in posts.values() for a in arms})
    colors = colors or {a: _COLORS[i % len(_COLORS)] for i, a in enumerate(names)}
    groups = list(posts)
    data = [{"type": "bar", "name": a, "x": groups, "y": [posts[g].get(a, {}).get("mean") for g in groups],
             "error_y": {"type": "data", "array": [posts[g].get(a, {}).get("sd", 0.0) for g in groups]},
             "marker": {"color": colors.get(a, "#888")},
             "customdata": [[posts[g].get(a, {}).get("alpha"), posts[g].get(a, {}).get("beta")] for g in groups],
             "hovertemplate": a + " in %{x}: mean %{y:.3f} (alpha %{customdata[0]}, beta %{customdata[1]})<extra></extra>"}
            for a in names]
    return {"data": data, "layout": _layout(barmode="group", yaxis={"range": [0, 1.05], "title": "posterior mean"})}


def _bars(names_to_y: Mapping[str, Sequence[Any]], x: Sequence[Any], colors: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"type": "bar", "name": name, "x": list(x), "y": list(ys), "marker": {"color": colors.get(name, "#888")}}
            for name, ys in names_to_y.items()]


def build_figures(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One plotly.js figure dict per graph id in :data:`GRAPHS`; empty states carry a hint."""
    if not summary["count"]:
        figs = {gid: _empty("No weaves yet (see the hint above)") for gid in GRAPHS}
        if summary["tool_posteriors"]:
            figs["tool-posterior"] = _posterior_figure(summary["tool_posteriors"], "")
        return figs
    levels = summary["levels"]
    level_color = {lv: _COLORS[i] for i, lv in enumerate(LEVELS)}
    # One colour per arm on every chart, whichever arms each chart happens to show.
    arms = sorted(set(summary["arms_time"]["arms"]) | {a for post in summary["routing_posteriors"].values() for a in post})
    arm_color = {a: _COLORS[i % len(_COLORS)] for i, a in enumerate(arms)}
    stacked = _layout(barmode="stack", yaxis={"title": "weaves"})
    figs: dict[str, dict[str, Any]] = {}

    stats = summary["latency_stats"]
    figs["latency"] = {"data": [
        {"type": "box", "name": f"{lv} (p50 {stats[lv]['p50']:.0f}, p95 {stats[lv]['p95']:.0f})",
         "y": summary["latency"][lv], "boxpoints": "all" if len(summary["latency"][lv]) <= 200 else "outliers",
         "jitter": 0.4, "pointpos": 0, "marker": {"color": level_color.get(lv, "#888"), "size": 4}}
        for lv in levels], "layout": _layout(yaxis={"title": "ms", "rangemode": "tozero"}, showlegend=False)}

    figs["stage-latency"] = {"data": [
        {"type": "bar", "orientation": "h", "name": name, "y": levels,
         "x": [summary["stage_means"][lv].get(name, 0.0) for lv in levels],
         "marker": {"color": _COLORS[i % len(_COLORS)]}, "hovertemplate": name + " %{x:.1f} ms<extra>%{y}</extra>"}
        for i, name in enumerate(summary["stage_order"])],
        "layout": _layout(barmode="stack", xaxis={"title": "ms"}, margin={"l": 80, "r": 20, "t": 10, "b": 40},
                          legend={"orientation": "h", "y": -0.25, "traceorder": "normal"})}

    c = summary["confidence"]
    figs["confidence"] = {"data": [
        {"type": "scatter", "mode": "markers", "name": "weave", "x": c["x"], "y": c["y"], "text": c["text"],
         "marker": {"size": 5, "color": "#4C78A8", "opacity": 0.6}},
        {"type": "scatter", "mode": "lines", "name": "rolling mean (20)", "x": c["x"], "y": c["rolling"],
         "line": {"color": "#E45756", "width": 2}}],
        "layout": _layout(yaxis={"range": [-0.02, 1.05], "title": "confidence"})}

    counts = [summary["complexity"][lv] for lv in levels]
    figs["complexity"] = {"data": [{"type": "bar", "x": levels, "y": counts, "text": counts, "textposition": "auto",
                                    "marker": {"color": [level_color.get(lv, "#888") for lv in levels]}}],
                          "layout": _layout(yaxis={"title": "weaves"})}

    at = summary["arms_time"]
    figs["arms-time"] = {"data": _bars(at["arms"], at["x"], arm_color), "layout": stacked}

    by_type = summary["arms_type"]
    types = list(by_type)
    type_arms = sorted({a for per_arm in by_type.values() for a in per_arm})
    figs["arms-type"] = {"data": _bars({a: [by_type[t].get(a, 0) for t in types] for a in type_arms}, types, arm_color),
                         "layout": stacked}

    figs["routing-posterior"] = _posterior_figure(
        summary["routing_posteriors"],
        "No arm posteriors in these weaves: their router records none (a fixed backend). Learned routing adds them.",
        arm_color)
    figs["tool-posterior"] = _posterior_figure(
        summary["tool_posteriors"], "No feedback yet: `hololoom feedback ID --useful` or `await loom.feedback(id, ...)`.")

    o = summary["outcomes"]
    figs["outcomes"] = {"data": _bars({st: o[st] for st in ("ok", "degraded", "error")}, o["x"], _STATUS_COLORS),
                        "layout": stacked}

    p = summary["process"]
    data = [{"type": "scatter", "mode": "lines+markers", "name": f"memories ({ns})", "x": series["x"], "y": series["y"],
             "line": {"shape": "hv", "color": _COLORS[i % len(_COLORS)]}, "marker": {"size": 4}}
            for i, (ns, series) in enumerate(p["memory"].items())]
    for i, (pid, series) in enumerate(p["rss"].items(), start=len(data)):
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"RSS MiB (pid {pid})", "x": series["x"],
                     "y": series["y"], "yaxis": "y2", "line": {"dash": "dot", "color": _COLORS[i % len(_COLORS)]},
                     "marker": {"size": 4}})
    figs["process"] = {"data": data, "layout": _layout(
        yaxis={"title": "memories", "rangemode": "tozero"},
        yaxis2={"title": "RSS MiB", "overlaying": "y", "side": "right", "rangemode": "tozero"})}
    return figs


def refresh(home: str | os.PathLike[str], n: int = 1000, *, cache: RecordCache | None = None
            ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One dashboard refresh: read (through ``cache``, which parses only new lines), summarize, build every figure."""
    home = Path(home)
    records: Sequence[Any] = cache.rows() if cache is not None else load_records(home, n)
    summary = summarize(records, tool_state=load_tool_state(home), feedback=load_feedback(home))
    return summary, build_figures(summary)


# -- the Dash app ------------------------------------------------------------------------


def _import_dash() -> Any:
    try:
        import dash
    except ImportError as exc:
        raise MissingDependencyError("the dashboard", "dashboard") from exc
    return dash


def _fmt(value: Any, pattern: str = "{}", missing: str = "–") -> str:
    return missing if value is None else pattern.format(value)


def _kpi_cards(html: Any, k: Mapping[str, Any]) -> list[Any]:
    feedback = (f"{_fmt(k['feedback_rate'], '{:.0%}')} of weaves" if k["feedback_rate"] is not None
                else f"{k['bandit_feedback']:g} all-time")
    reward = k["feedback_mean_reward"] if k["feedback_mean_reward"] is not None else k["bandit_mean_reward"]
    cards = [
        ("weaves", str(k["weaves"]), f"{k['processes']} process(es), {k['span_s']:g} s"),
        ("success", _fmt(k["success_rate"], "{:.0%}"), f"{k['degraded']} degraded, {k['errors']} errors"),
        ("latency p50 / p95", f"{_fmt(k['p50_ms'], '{:g}')} / {_fmt(k['p95_ms'], '{:g}')} ms", "all levels"),
        ("mean confidence", _fmt(k["mean_confidence"], "{:.2f}"), "tool x retrieval"),
        ("feedback", feedback, f"mean reward {_fmt(reward, '{:.2f}')}"),
        ("memories", _fmt(k["memory_count"]), f"RSS {_fmt(k['rss_mb'], '{:g}')} MiB"),
    ]
    return [html.Div([html.Div(label, className="kpi-label"), html.Div(value, className="kpi-value", id=f"kpi-{i}"),
                      html.Div(sub, className="kpi-sub")], className="kpi") for i, (label, value, sub) in enumerate(cards)]


def _recent_table(html: Any, dcc: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    """The newest weaves; a query links to ``?weave=ID``, which opens its trace (and can be bookmarked)."""
    if not rows:
        return html.Div("No weaves yet.", className="hint")
    header = ["time", "query", "level", "arm", "query type", "tool", "confidence", "ms", "status", "feedback"]
    body = []
    for r in rows:
        href = f"?weave={r['id']}"
        body.append(html.Tr([
            html.Td(dcc.Link(r["time"], href=href)), html.Td(dcc.Link(r["query"], href=href), className="q"),
            html.Td(r["level"]), html.Td(r["arm"]), html.Td(r["query_type"]), html.Td(r["tool"]),
            html.Td(f"{r['confidence']:.2f}"), html.Td(f"{r['ms']:g}"),
            html.Td(r["status"], className=f"st-{r['status']}"),
            html.Td("" if r["feedback"] == "" else f"{r['feedback']:g}"),
        ], id=f"row-{r['id']}"))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)], className="plain recent-table")


def _html_table(html: Any, header: Sequence[str], rows: Sequence[Sequence[Any]], class_name: str = "") -> Any:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])),
                       html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])], className=f"plain {class_name}")


def _short(data: Mapping[str, Any], limit: int = 140) -> str:
    text = inert(", ".join(f"{k}={json.dumps(v, default=str) if not isinstance(v, str) else v}"
                           for k, v in data.items() if k not in ("skipped", "passes")), keep_newlines=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def trace_view(record: Mapping[str, Any] | None) -> Any:
    """One weave's provenance trace: stages with timings, crawl passes, context with paths and score parts."""
    dash = _import_dash()
    html, dcc = dash.html, dash.dcc
    if not record:
        return html.Div("Click a query in the table to see that weave's trace.", className="hint")
    routing = record.get("routing") or {}
    created = float(record.get("created_at") or 0.0)
    header = html.Div([
        html.H3(inert(record.get("query", ""), keep_newlines=False)),
        html.Div(f"{record.get('id')} · {_clock(created)} · {record.get('complexity')} · backend {record.get('backend')}"
                 f" · arm {_arm(record)} ({routing.get('strategy', record.get('strategy'))})"
                 f" · query type {_query_type(record)}"
                 f" · tool {record.get('tool')} · confidence {float(record.get('confidence') or 0):.2f}"
                 f" · {float(record.get('duration_ms') or 0):.1f} ms · {_status(record)}", className="kpi-sub"),
        *[html.Div(inert(f"warning: {w}"), className="warn") for w in record.get("warnings") or ()],
        *[html.Div(inert(f"error: {e}"), className="err") for e in record.get("errors") or ()],
        html.Blockquote(inert(record.get("response") or "(no response)")),
    ])
    stages = list(record.get("stages") or ())
    bars = {"type": "bar", "orientation": "h",
            "y": [f"{i}. {s.get('loom_name')}" for i, s in enumerate(stages, 1)],
            "x": [float(s.get("duration_ms") or 0.0) for s in stages],
            "base": [max(0.0, (float(s.get("started_at") or created) - created) * 1000.0) for s in stages],
            "marker": {"color": ["#BBBBBB" if s.get("skipped") else ("#E45756" if s.get("error") else "#4C78A8")
                                 for s in stages]},
            "hovertemplate": "%{y}: %{x:.2f} ms<extra></extra>"}
    waterfall = dcc.Graph(id="trace-waterfall", config={"displayModeBar": False}, figure={"data": [bars], "layout": _layout(
        height=40 + 24 * max(1, len(stages)), yaxis={"autorange": "reversed"}, xaxis={"title": "ms since the weave started"},
        margin={"l": 160, "r": 20, "t": 10, "b": 40})})
    stage_rows = [[i, s.get("loom_name"), s.get("stage"), f"{float(s.get('duration_ms') or 0):.2f}",
                   "skipped" if s.get("skipped") else inert(s.get("error") or "ok"), _short(s.get("data") or {})]
                  for i, s in enumerate(stages, 1)]
    passes = next(((s.get("data") or {}).get("passes") or [] for s in stages if s.get("stage") == "crawl"), [])
    pass_rows = [[p.get("number"), p.get("new"), p.get("kept"), p.get("dropped_by_threshold"), p.get("elapsed_ms"),
                  inert(", ".join(f"{k}:{v}" for k, v in (p.get("paths") or {}).items()))] for p in passes]
    ctx_rows = []
    for i, item in enumerate(record.get("context") or (), 1):
        shard = item.get("shard") or {}
        title = (shard.get("metadata") or {}).get("title") or ""
        text = (f"{title}: " if title else "") + str(shard.get("text", ""))
        ctx_rows.append([i, f"{float(item.get('score') or 0):.3f}", item.get("found_in_pass"), inert(text)[:160],
                         inert("; ".join(item.get("paths") or ())),
                         ", ".join(f"{k}={float(v):.3f}" for k, v in (item.get("score_parts") or {}).items())])
    parts = [header, html.H4("Stages"), waterfall,
             _html_table(html, ["#", "loom", "stage", "ms", "status", "data"], stage_rows, "stages"),
             html.H4("Crawl passes"),
             _html_table(html, ["pass", "new", "kept", "dropped", "ms", "paths"], pass_rows) if pass_rows
             else html.Div("no crawl passes (the crawl was skipped or cut)", className="hint"),
             html.H4("Context"),
             _html_table(html, ["#", "score", "pass", "memory", "found by", "score parts"], ctx_rows) if ctx_rows
             else html.Div("no context items", className="hint")]
    if routing.get("posterior"):
        post, means = routing.get("posterior") or {}, routing.get("posterior_means") or {}
        avail = routing.get("availability") or {}
        arm_rows = [[("▶ " if arm == routing.get("arm") else "") + str(arm),
                     ", ".join(f"{float(v):.2f}" for v in post[arm]), _fmt(means.get(arm), "{:.3f}", ""),
                     _fmt(avail.get(arm), "{:.2f}", "")]
                    for arm in sorted(post)]
        how = "explored" if routing.get("explored") else f"leader {routing.get('leader')}"
        parts += [html.H4("Routing decision"),
                  html.Div(f"{routing.get('strategy')} · query type {routing.get('query_type')} · baseline "
                           f"{routing.get('baseline')} · {how}", className="kpi-sub"),
                  _html_table(html, ["arm", "posterior (alpha, beta)", "mean", "availability"], arm_rows)]
    return html.Div(parts, id="trace-body")


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#F3F4F7;color:#222}
.top{background:#1F2A44;color:white;padding:12px 20px}
.top h1{margin:0;font-size:20px}
.top .sub{opacity:.75;font-size:12px}
.wrap{padding:12px 20px}
.kpis{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:10px}
.kpi{background:white;border-radius:6px;padding:8px 12px;min-width:150px;flex:1;box-shadow:0 1px 2px #0001}
.kpi-label{font-size:11px;color:#666;text-transform:uppercase}
.kpi-value{font-size:20px;font-weight:600}
.kpi-sub{font-size:11px;color:#777}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.card{background:white;border-radius:6px;padding:8px;box-shadow:0 1px 2px #0001}
.card h2{font-size:13px;margin:2px 6px 4px;color:#333}
.hint{color:#777;font-size:13px;padding:8px}
.banner{background:#FFF6DB;border:1px solid #F2D27A;border-radius:6px;padding:8px 12px;margin-bottom:10px;font-size:13px}
table.plain{border-collapse:collapse;font-size:12px;width:100%}
table.plain td,table.plain th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
.recent{max-height:430px;overflow-y:auto}
.recent-table td.q{max-width:520px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.recent-table a{color:#1F4E8C;text-decoration:none}
.recent-table a:hover{text-decoration:underline}
.recent-table thead th{position:sticky;top:0;background:#F3F4F7}
.st-ok{color:#2E7D32;font-weight:600}
.st-degraded{color:#B26A00;font-weight:600}
.st-error{color:#B00020;font-weight:600}
.warn{color:#9a6a00;font-size:12px}
.err{color:#B00020;font-size:12px}
blockquote{margin:8px 0;padding:6px 10px;background:#F7F7FA;border-left:3px solid #4C78A8}
@media(max-width:1100px){.grid{grid-template-columns:1fr}}
"""


def create_app(home: str | os.PathLike[str] | None = None, *, refresh_ms: int = 2000, n: int = 1000) -> Any:
    """The Dash app over ``home``'s weave log (default: ``Settings.from_env().home``).

    Args:
        home: the HOLOLOOM_HOME whose processes to watch.
        refresh_ms: how often the page re-reads the log.
        n: how many of the latest weaves to show.

    Raises:
        MissingDependencyError: the ``dashboard`` extra is not installed.
    """
    dash = _import_dash()
    from dash import Input, Output, State, dcc, html, no_update

    if home is None:
        from .config import Settings

        home = Settings.from_env().home
    home = Path(home)
    log_path = weave_log_path(home)
    cache = RecordCache(log_path, n)
    # Parse the log's tail now, so the first page load finds it read.
    threading.Thread(target=cache.rows, name="hololoom-dashboard-warm", daemon=True).start()

    app = dash.Dash(__name__, title="HoloLoom dashboard", update_title=None, serve_locally=True)
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + _CSS + "</style>")
    app.layout = html.Div([
        dcc.Location(id="url", refresh=False),
        html.Div([html.H1("HoloLoom"), html.Div(f"{home} · last {n} weaves · refreshed every {refresh_ms / 1000:g} s",
                                                className="sub"), html.Div(id="updated", className="sub")], className="top"),
        html.Div([
            html.Div(id="banner"),
            html.Div(id="kpis", className="kpis"),
            html.Div([html.Div([html.H2(title), dcc.Graph(id=f"graph-{gid}", config={"displayModeBar": False})],
                               className="card") for gid, title in GRAPHS.items()], className="grid"),
            html.Div([html.H2("Recent queries, newest first (click one for its trace)"),
                      html.Div(id="recent", className="recent")], className="card", style={"marginTop": "10px"}),
            html.Div([html.H2("Trace"), html.Div(trace_view(None), id="trace")], className="card",
                     style={"marginTop": "10px"}),
        ], className="wrap"),
        dcc.Store(id="signature"),
        dcc.Store(id="trace-shown"),
        dcc.Interval(id="tick", interval=refresh_ms, n_intervals=0),
    ])

    graph_outputs = [Output(f"graph-{gid}", "figure") for gid in GRAPHS]

    @app.callback(*graph_outputs, Output("kpis", "children"), Output("recent", "children"), Output("banner", "children"),
                  Output("updated", "children"), Output("signature", "data"),
                  Input("tick", "n_intervals"), State("signature", "data"))
    def _refresh(_n: int, seen: Any) -> tuple[Any, ...]:
        sig = _signature(home)
        stamp = "updated " + time.strftime("%H:%M:%S")
        if seen is not None and sig == seen:
            return (*[no_update] * len(GRAPHS), no_update, no_update, no_update, stamp, no_update)
        summary, figs = refresh(home, n, cache=cache)
        banner = "" if summary["count"] else html.Div(EMPTY_HINT.format(path=log_path), className="banner")
        return (*[figs[gid] for gid in GRAPHS], _kpi_cards(html, summary["kpis"]),
                _recent_table(html, dcc, summary["table"]), banner, stamp, sig)

    @app.callback(Output("trace", "children"), Input("url", "search"))
    def _trace(search: str | None) -> Any:
        weave_id = parse_qs((search or "").lstrip("?")).get("weave", [""])[0]
        if not weave_id:
            return trace_view(None)
        record = WeaveLog(log_path).find(weave_id)
        if record is None:
            return html.Div(f"No weave {weave_id} in {log_path} (it may have rotated out).", className="hint")
        return trace_view(record)

    app.clientside_callback(  # bring an opened trace into view
        "function(_c){ if (window.location.search.indexOf('weave=') >= 0) {"
        " document.getElementById('trace').scrollIntoView({block: 'start'}); } return null; }",
        Output("trace-shown", "data"), Input("trace", "children"), prevent_initial_call=True)
    return app


def start_dashboard(port: int = 8050, host: str = "127.0.0.1", home: str | os.PathLike[str] | None = None,
                    refresh_ms: int = 2000, *, debug: bool = False) -> None:
    """Serve the dashboard until interrupted (bound to 127.0.0.1 unless ``host`` says otherwise)."""
    app = create_app(home, refresh_ms=refresh_ms)
    app.run(host=host, port=port, debug=debug)


if __name__ == "__main__":  # pragma: no cover - a convenience until `hololoom dashboard` lands
    import argparse

    parser = argparse.ArgumentParser(description="HoloLoom dashboard")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--home", default=None)
    parser.add_argument("--refresh-ms", type=int, default=2000)
    args = parser.parse_args()
    start_dashboard(port=args.port, host=args.host, home=args.home, refresh_ms=args.refresh_ms)
