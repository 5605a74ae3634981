"""The Dash app: the page, its refresh callback and one weave's trace view.

Everything on the page comes from :func:`refresh` (read through a :class:`~.data.RecordCache`,
summarize, build figures); the Dash layer only lays the results out.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..errors import HoloLoomError, MissingDependencyError
from ..home import HomeLayout
from ..jsonl import JsonlLog
from ..rendering import inert
from ..weaving.events import Stage
from ..weaving.spacetime import Spacetime
from .data import RecordCache, arm, clock, load_feedback, load_records, load_tool_state, query_type, signature, status
from .figures import GRAPHS, build_figures, layout
from .summary import summarize

__all__ = ["EMPTY_HINT", "create_app", "find_weave", "refresh", "start_dashboard", "trace_view"]

EMPTY_HINT = ("No weaves recorded yet in {path}. Ask something in a process using this HOLOLOOM_HOME: "
              "`hololoom ask \"...\"` or `await loom.weave(...)`; this page refreshes by itself.")


def refresh(home: str | os.PathLike[str], n: int = 1000, *, cache: RecordCache | None = None
            ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One dashboard refresh: read (through ``cache``, which parses only new lines), summarize, build every figure."""
    records: Sequence[Any] = cache.rows() if cache is not None else load_records(home, n)
    summary = summarize(records, tool_state=load_tool_state(home), feedback=load_feedback(home))
    return summary, build_figures(summary)



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


def trace_view(spacetime: Spacetime | None) -> Any:
    """One weave's provenance trace: stages with timings, crawl passes, context with paths and score parts."""
    dash = _import_dash()
    html, dcc = dash.html, dash.dcc
    if spacetime is None:
        return html.Div("Click a query in the table to see that weave's trace.", className="hint")
    st = spacetime
    parts = [_trace_header(html, st), html.H4("Stages"), _waterfall(dcc, st),
             _html_table(html, ["#", "loom", "stage", "ms", "status", "data"],
                         [[i, r.stage.loom_name, r.stage.value, f"{r.duration_ms:.2f}",
                           "skipped" if r.skipped else inert(r.error or "ok"), _short(r.data)]
                          for i, r in enumerate(st.stages, 1)], "stages"),
             html.H4("Crawl passes"), _passes(html, st), html.H4("Context"), _context(html, st)]
    if st.routing.get("posterior"):
        parts += _routing_decision(html, st.routing)
    return html.Div(parts, id="trace-body")


def _trace_header(html: Any, st: Spacetime) -> Any:
    return html.Div([
        html.H3(inert(st.query, keep_newlines=False)),
        html.Div(f"{st.id} · {clock(st.created_at)} · {st.complexity.value} · backend {st.backend}"
                 f" · arm {arm(st)} ({st.routing.get('strategy', st.strategy)}) · query type {query_type(st)}"
                 f" · tool {st.tool} · confidence {st.confidence:.2f} · {st.duration_ms:.1f} ms · {status(st)}",
                 className="kpi-sub"),
        *[html.Div(inert(f"warning: {w}"), className="warn") for w in st.warnings],
        *[html.Div(inert(f"error: {e}"), className="err") for e in st.errors],
        html.Blockquote(inert(st.response or "(no response)")),
    ])


def _waterfall(dcc: Any, st: Spacetime) -> Any:
    bars = {"type": "bar", "orientation": "h",
            "y": [f"{i}. {r.stage.loom_name}" for i, r in enumerate(st.stages, 1)],
            "x": [r.duration_ms for r in st.stages],
            "base": [max(0.0, (r.started_at - st.created_at) * 1000.0) for r in st.stages],
            "marker": {"color": ["#BBBBBB" if r.skipped else ("#E45756" if r.error else "#4C78A8") for r in st.stages]},
            "hovertemplate": "%{y}: %{x:.2f} ms<extra></extra>"}
    return dcc.Graph(id="trace-waterfall", config={"displayModeBar": False}, figure={"data": [bars], "layout": layout(
        height=40 + 24 * max(1, len(st.stages)), yaxis={"autorange": "reversed"},
        xaxis={"title": "ms since the weave started"}, margin={"l": 160, "r": 20, "t": 10, "b": 40})})


def _passes(html: Any, st: Spacetime) -> Any:
    passes = next((r.data.get("passes") or [] for r in st.stages if r.stage is Stage.CRAWL), [])
    rows = [[p.get("number"), p.get("new"), p.get("kept"), p.get("dropped_by_threshold"), p.get("elapsed_ms"),
             inert(", ".join(f"{k}:{v}" for k, v in (p.get("paths") or {}).items()))] for p in passes]
    if not rows:
        return html.Div("no crawl passes (the crawl was skipped or cut)", className="hint")
    return _html_table(html, ["pass", "new", "kept", "dropped", "ms", "paths"], rows)


def _context(html: Any, st: Spacetime) -> Any:
    rows = []
    for i, item in enumerate(st.context, 1):
        text = (f"{item.shard.title}: " if item.shard.title else "") + item.shard.text
        rows.append([i, f"{item.score:.3f}", item.found_in_pass, inert(text)[:160], inert("; ".join(item.paths)),
                     ", ".join(f"{k}={v:.3f}" for k, v in item.score_parts.items())])
    if not rows:
        return html.Div("no context items", className="hint")
    return _html_table(html, ["#", "score", "pass", "memory", "found by", "score parts"], rows)


def _routing_decision(html: Any, routing: Mapping[str, Any]) -> list[Any]:
    post, means = routing.get("posterior") or {}, routing.get("posterior_means") or {}
    avail = routing.get("availability") or {}
    rows = [[("▶ " if a == routing.get("arm") else "") + str(a), ", ".join(f"{float(v):.2f}" for v in post[a]),
             _fmt(means.get(a), "{:.3f}", ""), _fmt(avail.get(a), "{:.2f}", "")] for a in sorted(post)]
    how = "explored" if routing.get("explored") else f"leader {routing.get('leader')}"
    return [html.H4("Routing decision"),
            html.Div(f"{routing.get('strategy')} · query type {routing.get('query_type')} · baseline "
                     f"{routing.get('baseline')} · {how}", className="kpi-sub"),
            _html_table(html, ["arm", "posterior (alpha, beta)", "mean", "availability"], rows)]


def find_weave(home: str | os.PathLike[str], weave_id: str) -> Spacetime | None:
    """The weave ``weave_id`` from ``home``'s log, if it is there and is a Spacetime."""
    record = JsonlLog(HomeLayout(home).weaves).find(weave_id)
    if record is None:
        return None
    try:
        return Spacetime.from_dict(record)
    except (HoloLoomError, KeyError, TypeError, ValueError, AttributeError):
        return None


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
    log_path = HomeLayout(home).weaves
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
        sig = signature(home)
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
        spacetime = find_weave(home, weave_id)
        if spacetime is None:
            return html.Div(f"No weave {weave_id} in {log_path} (it may have rotated out).", className="hint")
        return trace_view(spacetime)

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
