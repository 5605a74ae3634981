"""The dashboard's figures: plain plotly.js dicts (no plotly validation on every refresh)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .summary import LEVELS

__all__ = ["COLORS", "GRAPHS", "build_figures", "layout"]

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
COLORS = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B"]
_STATUS_COLORS = {"ok": "#54A24B", "degraded": "#F2A93B", "error": "#E45756"}



def layout(**extra: Any) -> dict[str, Any]:
    base = {"margin": {"l": 50, "r": 20, "t": 10, "b": 40}, "height": 280, "paper_bgcolor": "white",
            "plot_bgcolor": "#FAFAFC", "font": {"size": 11}, "legend": {"orientation": "h", "y": -0.2},
            "uirevision": "keep"}
    base.update(extra)
    return base


def _empty(text: str) -> dict[str, Any]:
    return {"data": [], "layout": layout(xaxis={"visible": False}, yaxis={"visible": False}, annotations=[
        {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
         "font": {"size": 12, "color": "#777"}}])}


def _posterior_figure(posts: Mapping[str, Mapping[str, Mapping[str, float]]], empty: str,
                      colors: Mapping[str, str] | None = None) -> dict[str, Any]:
    if not posts:
        return _empty(empty)
    names = sorted({a for arms in posts.values() for a in arms})
    colors = colors or {a: COLORS[i % len(COLORS)] for i, a in enumerate(names)}
    groups = list(posts)
    data = [{"type": "bar", "name": a, "x": groups, "y": [posts[g].get(a, {}).get("mean") for g in groups],
             "error_y": {"type": "data", "array": [posts[g].get(a, {}).get("sd", 0.0) for g in groups]},
             "marker": {"color": colors.get(a, "#888")},
             "customdata": [[posts[g].get(a, {}).get("alpha"), posts[g].get(a, {}).get("beta")] for g in groups],
             "hovertemplate": a + " in %{x}: mean %{y:.3f} (alpha %{customdata[0]}, beta %{customdata[1]})<extra></extra>"}
            for a in names]
    return {"data": data, "layout": layout(barmode="group", yaxis={"range": [0, 1.05], "title": "posterior mean"})}


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
    level_color = {lv: COLORS[i] for i, lv in enumerate(LEVELS)}
    # One colour per arm on every chart, whichever arms each chart happens to show.
    arms = sorted(set(summary["arms_time"]["arms"]) | {a for post in summary["routing_posteriors"].values() for a in post})
    arm_color = {a: COLORS[i % len(COLORS)] for i, a in enumerate(arms)}
    stacked = layout(barmode="stack", yaxis={"title": "weaves"})
    figs: dict[str, dict[str, Any]] = {}

    stats = summary["latency_stats"]
    figs["latency"] = {"data": [
        {"type": "box", "name": f"{lv} (p50 {stats[lv]['p50']:.0f}, p95 {stats[lv]['p95']:.0f})",
         "y": summary["latency"][lv], "boxpoints": "all" if len(summary["latency"][lv]) <= 200 else "outliers",
         "jitter": 0.4, "pointpos": 0, "marker": {"color": level_color.get(lv, "#888"), "size": 4}}
        for lv in levels], "layout": layout(yaxis={"title": "ms", "rangemode": "tozero"}, showlegend=False)}

    figs["stage-latency"] = {"data": [
        {"type": "bar", "orientation": "h", "name": name, "y": levels,
         "x": [summary["stage_means"][lv].get(name, 0.0) for lv in levels],
         "marker": {"color": COLORS[i % len(COLORS)]}, "hovertemplate": name + " %{x:.1f} ms<extra>%{y}</extra>"}
        for i, name in enumerate(summary["stage_order"])],
        "layout": layout(barmode="stack", xaxis={"title": "ms"}, margin={"l": 80, "r": 20, "t": 10, "b": 40},
                          legend={"orientation": "h", "y": -0.25, "traceorder": "normal"})}

    c = summary["confidence"]
    figs["confidence"] = {"data": [
        {"type": "scatter", "mode": "markers", "name": "weave", "x": c["x"], "y": c["y"], "text": c["text"],
         "marker": {"size": 5, "color": "#4C78A8", "opacity": 0.6}},
        {"type": "scatter", "mode": "lines", "name": "rolling mean (20)", "x": c["x"], "y": c["rolling"],
         "line": {"color": "#E45756", "width": 2}}],
        "layout": layout(yaxis={"range": [-0.02, 1.05], "title": "confidence"})}

    counts = [summary["complexity"][lv] for lv in levels]
    figs["complexity"] = {"data": [{"type": "bar", "x": levels, "y": counts, "text": counts, "textposition": "auto",
                                    "marker": {"color": [level_color.get(lv, "#888") for lv in levels]}}],
                          "layout": layout(yaxis={"title": "weaves"})}

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
             "line": {"shape": "hv", "color": COLORS[i % len(COLORS)]}, "marker": {"size": 4}}
            for i, (ns, series) in enumerate(p["memory"].items())]
    for i, (pid, series) in enumerate(p["rss"].items(), start=len(data)):
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"RSS MiB (pid {pid})", "x": series["x"],
                     "y": series["y"], "yaxis": "y2", "line": {"dash": "dot", "color": COLORS[i % len(COLORS)]},
                     "marker": {"size": 4}})
    figs["process"] = {"data": data, "layout": layout(
        yaxis={"title": "memories", "rangemode": "tozero"},
        yaxis2={"title": "RSS MiB", "overlaying": "y", "side": "right", "rangemode": "tozero"})}
    return figs
