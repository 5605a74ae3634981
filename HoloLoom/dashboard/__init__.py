"""The Dash dashboard: live views of the last 1,000 weaves of every HoloLoom process on a home.

It reads only what running processes record under ``HOLOLOOM_HOME``
(:class:`~HoloLoom.home.HomeLayout`: the weave log, the feedback log, the learner's
state), so it works beside a terminal UI, a server or a script in another process.

- ``data``: reading the home through library types (:class:`WeaveRow` from each
  :class:`~HoloLoom.weaving.Spacetime`), incrementally (:class:`RecordCache`)
- ``summary``: :func:`summarize`, everything the page shows as plain data
- ``figures``: :func:`build_figures`, plotly.js figure dicts
- ``app``: the Dash app (:func:`create_app`, :func:`start_dashboard`) and :func:`trace_view`

    python -c "from HoloLoom.dashboard import start_dashboard; start_dashboard()"
"""

from .app import EMPTY_HINT, create_app, find_weave, refresh, start_dashboard, trace_view
from .data import RecordCache, WeaveRow, load_feedback, load_records, load_tool_state, weave_log_path
from .figures import GRAPHS, build_figures
from .summary import LEVELS, summarize

__all__ = ["EMPTY_HINT", "GRAPHS", "LEVELS", "RecordCache", "WeaveRow", "build_figures", "create_app", "find_weave",
           "load_feedback", "load_records", "load_tool_state", "refresh", "start_dashboard", "summarize", "trace_view",
           "weave_log_path"]
