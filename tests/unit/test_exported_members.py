"""``HoloLoom.__all__`` is exactly the public face: every name users import, nothing else.

As httpx's ``tests/test_exported_members.py``: the test fails when a public name is added
without being exported, or exported without being public. Names load lazily (PEP 562),
so the test first loads every exported one, then compares what the package holds.
"""

import types

import HoloLoom

#: What users receive or import. Changing the public face means changing this list on purpose.
PUBLIC = [
    "AddResult", "classify_query_type", "Complexity", "ConfigurationError", "CrawlPlan", "CrawlResult", "CrawlWeights",
    "DEFAULT_PLANS", "detect_complexity", "Document", "EmbeddedStore", "Embedder", "EmbeddingError", "EntityExtractor",
    "EventBus", "FeedbackGiven", "find_time_phrases", "Hit", "HoloLoom", "HoloLoomError", "HomeLayout", "HybridStore",
    "HybridWriteError", "InvalidComplexityError", "InvalidFeedbackError", "InvalidNamespaceError", "InvalidQueryError",
    "Link", "LoomEvent", "LoomMetrics", "MemoryShard", "MemoryStore", "MissingDependencyError", "Neo4jStore",
    "NotFoundError", "PartialWriteError", "PassReport", "PassSpec", "QdrantStore", "QueryClassifier", "query_window",
    "RouteDecision", "Router", "RoutingStateError", "RuleBasedExtractor", "run_metrics_server", "ScoredShard",
    "SearchFilter", "SentenceTransformerEmbedder", "serve_metrics", "Settings", "ShardRecord", "Spacetime", "Stage",
    "StageEnded", "StageRecord", "StageStarted", "StoreClosedError", "StoreError", "StoreUnavailableError",
    "TerminalUI", "TimePhrase", "Tool", "ToolContext", "ToolError", "ToolResult", "ValidationError", "WeaveEnded",
    "WeaveStarted",
]


def test_all_is_the_public_names_alphabetised() -> None:
    assert HoloLoom.__all__ == sorted(PUBLIC, key=str.casefold) + ["__version__"]


def test_the_package_holds_exactly_what_it_exports() -> None:
    for name in HoloLoom.__all__:
        getattr(HoloLoom, name)  # load every lazy name
    held = sorted(
        (name for name, value in vars(HoloLoom).items()
         # submodules become attributes of the package when imported; they are not the face
         if not name.startswith("_") and not isinstance(value, types.ModuleType)),
        key=str.casefold,
    )
    assert held == sorted(PUBLIC, key=str.casefold)
    listed = [n for n in dir(HoloLoom) if not n.startswith("_") and not isinstance(getattr(HoloLoom, n), types.ModuleType)]
    assert sorted(listed) == sorted(PUBLIC)


def test_internals_are_not_exported() -> None:
    for name in ("LearnedWeaveRouter", "Policy", "WeavingOrchestrator", "MultipassCrawler", "matryoshka",
                 "MATRYOSHKA_SCALES", "ThompsonBandit", "MetricsCollector", "jsonable"):
        assert name not in HoloLoom.__all__
        assert not hasattr(HoloLoom, name), name


def test_what_the_facade_hands_out_is_exported() -> None:
    """The facade's annotations name public types, so users can import what they receive."""
    import inspect
    import typing

    hints = typing.get_type_hints(HoloLoom.HoloLoom.weave)
    assert hints["return"] is HoloLoom.Spacetime
    assert "StageRecord" in HoloLoom.__all__ and "RouteDecision" in HoloLoom.__all__
    source = inspect.getsource(HoloLoom.HoloLoom)
    for prop in ("orchestrator", "events", "register_tool", "weave"):
        assert f"def {prop}(" in source
    for prop in ("orchestrator", "events"):
        annotation = inspect.signature(getattr(HoloLoom.HoloLoom, prop).fget).return_annotation
        assert annotation not in ("Any", typing.Any), prop
