"""The scale benchmark's plot: weave latency, recall, memory and reopen time against size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_plot"]

_PANELS = (
    ("weave p50 (ms)", lambda run, level: run["levels"][level]["p50_ms"]),
    ("ANN recall@10 vs exact", lambda run, _level: run["ann_recall@10"]),
    ("RSS (MB)", lambda run, _level: run["rss_mb"]),
    ("reopen (s)", lambda run, _level: run["reopen_s"]),
)


def write_plot(payload: dict[str, Any], path: Path) -> tuple[Path, Path]:
    """Write ``path.html`` (interactive) and ``path.png`` (for docs); returns both paths."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    import plotly.express as px

    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for title, _ in _PANELS])
    palette, colours = px.colors.qualitative.Dark24, {}
    backends = list(dict.fromkeys(run["backend"] for run in payload["runs"]))
    for backend in backends:
        runs = sorted((r for r in payload["runs"] if r["backend"] == backend), key=lambda r: r["memories"])
        sizes = [r["memories"] for r in runs]
        for p_index, (title, value) in enumerate(_PANELS):
            row, col = divmod(p_index, 2)
            levels = list(runs[0]["levels"]) if p_index == 0 else [None]
            for level in levels:
                name = f"{backend} {level}" if level else backend
                colour = colours.setdefault(name, palette[len(colours) % len(palette)])
                fig.add_trace(go.Scatter(x=sizes, y=[value(r, level) for r in runs], mode="lines+markers", name=name,
                                         legendgroup=name, showlegend=p_index in (0, 1), line_color=colour),
                              row=row + 1, col=col + 1)
            fig.update_xaxes(type="log", title_text="memories", row=row + 1, col=col + 1)
    fig.update_layout(title="HoloLoom at scale (2 shared cores)", height=800, width=1100)
    path.parent.mkdir(parents=True, exist_ok=True)
    html, png = path.with_suffix(".html"), path.with_suffix(".png")
    fig.write_html(html, include_plotlyjs="cdn")
    fig.write_image(png)
    return html, png
