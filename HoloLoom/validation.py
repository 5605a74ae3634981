"""The one validation layer every input crosses before anything runs.

The facade (``HoloLoom``), the CLI and the HTTP API all check their inputs with the
types and functions here, so a rule (a length, a range, "no control characters in an
id") lives in exactly one place and every face refuses the same inputs with the same
message. Validation is pydantic's (compiled, a microsecond or two per call); a refusal
is always a :class:`~HoloLoom.errors.HoloLoomError` subclass whose message names the
argument and the rule, never pydantic's own exception.

    from HoloLoom.validation import Query, Limit, check, validated

    limit = check("limit", raw_limit, Limit)        # one value

    @validated                                      # every annotated argument of a call
    async def recall(self, query: Query, *, limit: Limit | None = 10): ...

The annotated types (``Query``, ``ShardId``, ``Namespace``, ``Where``, ...) are plain
``typing.Annotated`` aliases, so a FastAPI request model can use them as field types.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, StrictBool, TypeAdapter
from pydantic_core import PydanticCustomError

from .errors import (
    InvalidComplexityError,
    InvalidFeedbackError,
    InvalidNamespaceError,
    InvalidQueryError,
    ValidationError,
)
from .types import Complexity, to_timestamp, validate_namespace

__all__ = [
    "BudgetMs", "Count", "EntityNames", "Instant", "Level", "Limit", "MAX_ENTITIES", "MAX_ID_CHARS", "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH", "MAX_QUERY_CHARS", "MAX_TITLE_CHARS", "Metadata", "Namespace", "Query", "Reward",
    "Seed", "SettingText", "ShardId", "ShardIds", "SpacetimeId", "Title", "ToolName", "Useful", "Where", "check", "check_text",
    "refusal", "validated",
]

MAX_QUERY_CHARS = 10_000
MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 1_000
MAX_ENTITY_CHARS = 256
MAX_ENTITIES = 1_000
MAX_TOOL_CHARS = 64
MAX_IDS = 10_000
MAX_LIMIT = 10_000
MAX_BUDGET_MS = 3_600_000.0
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 8
MAX_WHERE_KEYS = 64
#: epoch seconds HoloLoom accepts (years 1 to 5138): every backend and datetime can hold them
MAX_EPOCH_SECONDS = 1e11
MIN_EPOCH_SECONDS = -62_135_596_800.0
_INT64 = 2**63

# C0 controls, DEL and C1 controls: never part of an id, a title, an entity or a key.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACETIME_ID = re.compile(r"^[0-9a-f]{32}$")


def _refuse(kind: str, message: str) -> PydanticCustomError:
    # Formatted here: pydantic's own templates know no format specs.
    return PydanticCustomError(kind, message.replace("{", "(").replace("}", ")"))


def _unicode(value: str) -> str:
    """Refuse lone surrogates: they cannot be encoded, stored or printed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _refuse("invalid_unicode",
                      f"must be valid Unicode (lone surrogate U+{ord(value[exc.start]):04X} at {exc.start})") from None
    return value


def _no_nul(value: str) -> str:
    at = value.find("\x00")
    if at >= 0:
        raise _refuse("nul_character", f"must not contain a NUL character (at {at})")
    return value


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise _refuse("control_character",
                      f"must not contain control characters (U+{ord(found.group()):04X} at {found.start()})")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise _refuse("blank", "must not be empty or only whitespace")
    return value


def _namespace(value: str) -> str:
    try:
        return validate_namespace(value)
    except InvalidNamespaceError:
        raise _refuse("namespace", "must be 1-128 characters from [A-Za-z0-9_.:@-], starting with a letter or digit") from None


def _level(value: object) -> Complexity:
    if isinstance(value, (Complexity, str)):
        try:
            return Complexity.parse(value)
        except InvalidComplexityError:
            pass
    raise _refuse("complexity", "must be one of LITE, FAST, FULL, RESEARCH")


def _instant(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, datetime)):
        raise _refuse("instant", "must be a datetime, an ISO-8601 string or epoch seconds")
    if isinstance(value, str) and len(value) > 64:
        raise _refuse("instant", "must be an ISO-8601 string of at most 64 characters")
    if isinstance(value, int) and not MIN_EPOCH_SECONDS <= value <= MAX_EPOCH_SECONDS:
        raise _refuse("instant_range", "must lie between year 1 and year 5138 as epoch seconds")
    try:
        seconds = to_timestamp(value)
    except (ValidationError, OverflowError, ValueError):
        raise _refuse("instant", "must be a datetime, an ISO-8601 date/time or finite epoch seconds") from None
    assert seconds is not None
    if not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise _refuse("instant_range", "must lie between year 1 and year 5138 as epoch seconds")
    return seconds


def _spacetime_id(value: str) -> str:
    if not _SPACETIME_ID.match(value):
        raise _refuse("spacetime_id", "must be 32 lowercase hexadecimal characters (the id weave() returned)")
    return value


def _json_value(value: object, depth: int) -> object:
    """One metadata/where value, checked for what every backend can store."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise _refuse("integer_range", "must hold only integers that fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse("finite_number", "must hold only finite numbers")
        return value
    if isinstance(value, str):
        return _unicode(value)
    if depth >= MAX_METADATA_DEPTH:
        raise _refuse("too_deep", f"must nest at most {MAX_METADATA_DEPTH} levels")
    if isinstance(value, Mapping):
        return {_key(k): _json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v, depth + 1) for v in value]
    raise _refuse("json_type", f"must hold only JSON values (str, number, bool, None, list, mapping), "
                  f"not {type(value).__name__}")


def _key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_ID_CHARS:
        raise _refuse("key", f"keys must be strings of 1-{MAX_ID_CHARS} characters")
    return _no_control(_unicode(key))


def _metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse("mapping", f"must be a mapping of string keys to JSON values, not {type(value).__name__}")
    checked = _json_value(value, 0)
    size = len(json.dumps(checked, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise _refuse("too_large", f"must be at most {MAX_METADATA_BYTES:,} bytes as JSON (it is {size:,})")
    return checked  # type: ignore[return-value]


def _where(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse("mapping", "must be a mapping of metadata keys to a value or a list of values, "
                      f"not {type(value).__name__}")
    if len(value) > MAX_WHERE_KEYS:
        raise _refuse("too_many", f"must have at most {MAX_WHERE_KEYS} keys")
    out: dict[str, Any] = {}
    for key, wanted in value.items():
        values = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        for v in values:
            if isinstance(v, (Mapping, list, tuple, set, frozenset)):
                raise _refuse("where_value", "values must be a scalar or a list of scalars")
            _json_value(v, MAX_METADATA_DEPTH)
        out[_key(key)] = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else wanted
    return out


def _finite_number(low: float, high: float, *, low_open: bool = False) -> Callable[[object], float]:
    def check_number(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _refuse("number", "must be a number")
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise _refuse("number_range", f"must lie in {_range(low, high, low_open)}")
        value = float(value)
        if not math.isfinite(value):
            raise _refuse("finite_number", "must be a finite number")
        if value > high or value < low or (low_open and value == low):
            raise _refuse("number_range", f"must lie in {_range(low, high, low_open)}")
        return value

    return check_number


def _range(low: float, high: float, low_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}]"



#: A question: 1-10,000 characters, not blank, valid Unicode, no NUL.
Query = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_QUERY_CHARS), AfterValidator(_unicode), AfterValidator(_no_nul),
                  AfterValidator(_not_blank)]
#: A shard or document id: 1-256 characters, no control characters.
ShardId = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_unicode), AfterValidator(_no_control),
                    AfterValidator(_not_blank)]
#: One id or a list of 1-10,000 ids; validated to a list.
ShardIds = Annotated[list[ShardId], BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
                     Field(min_length=1, max_length=MAX_IDS)]
#: What a text is about (a page title, a file name): 1-1,000 characters, no control characters.
Title = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_TITLE_CHARS), AfterValidator(_unicode), AfterValidator(_no_control),
                  AfterValidator(_not_blank)]
EntityName = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_ENTITY_CHARS), AfterValidator(_unicode), AfterValidator(_no_control),
                       AfterValidator(_not_blank)]
#: Entities the caller already knows: a list (not a bare string) of at most 1,000 names.
EntityNames = Annotated[list[EntityName], Field(max_length=MAX_ENTITIES)]
#: A tenant: 1-128 characters from [A-Za-z0-9_.:@-], starting with a letter or digit.
Namespace = Annotated[str, Strict(), AfterValidator(_namespace)]
#: A complexity level or its name in any case.
Level = Annotated[Complexity, BeforeValidator(_level)]
#: A datetime, an ISO-8601 string or epoch seconds (finite, years 1-5138); validated to epoch seconds.
Instant = Annotated[float, BeforeValidator(_instant)]
#: JSON metadata: string keys, at most 8 levels deep and 64 KiB as JSON, 64-bit integers, finite floats.
Metadata = Annotated[dict[str, Any], BeforeValidator(_metadata)]
#: Metadata equalities a read must match: key -> scalar, or key -> list of allowed scalars.
Where = Annotated[dict[str, Any], BeforeValidator(_where)]
#: How many items: an integer (not a bool) from 1 to 10,000.
Limit = Annotated[int, Strict(), Field(gt=0, le=MAX_LIMIT)]
#: A time budget in milliseconds: a finite number in (0, 3,600,000].
BudgetMs = Annotated[float, BeforeValidator(_finite_number(0.0, MAX_BUDGET_MS, low_open=True))]
ToolName = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_TOOL_CHARS), AfterValidator(_unicode), AfterValidator(_no_control),
                     AfterValidator(_not_blank)]
SpacetimeId = Annotated[str, Strict(), AfterValidator(_spacetime_id)]
#: Feedback reward: a finite number in [0, 1].
Reward = Annotated[float, BeforeValidator(_finite_number(0.0, 1.0))]
Useful = StrictBool
#: A positive count in settings (batch sizes, character limits).
Count = Annotated[int, Strict(), Field(gt=0, lt=_INT64)]
#: A random seed: a non-negative integer.
Seed = Annotated[int, Strict(), Field(ge=0, lt=2**32)]
#: A string setting (a URI, a path, a name): valid Unicode, no control characters.
SettingText = Annotated[str, Strict(), Field(max_length=4096), AfterValidator(_unicode), AfterValidator(_no_control)]

# -- refusals ---------------------------------------------------------------------------

_ERROR_FOR_ARGUMENT: dict[str, type[ValidationError]] = {
    "query": InvalidQueryError,
    "namespace": InvalidNamespaceError,
    "complexity": InvalidComplexityError,
    "spacetime_id": InvalidFeedbackError,
    "reward": InvalidFeedbackError,
    "useful": InvalidFeedbackError,
}


def _preview(value: object) -> str:
    """A short, printable picture of a refused value (never the whole of a huge one)."""
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:40]) + f"... ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        text = repr(value)
        return text if len(text) <= 60 else text[:60] + "..."
    return f"a {type(value).__name__}"


def refusal(exc: pydantic.ValidationError, name: str | None = None, *,
            positional: Sequence[str] = (), show_value: bool = True) -> ValidationError:
    """The HoloLoomError for a pydantic refusal: names the argument, the rule and (briefly) the value.

    Args:
        exc: what pydantic raised.
        name: the argument's name when ``exc`` came from validating one value.
        positional: the call's parameter names, to name arguments given by position.
        show_value: False for values that may hold a credential (settings, URIs).
    """
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    if loc and isinstance(first["loc"][0], int) and first["loc"][0] < len(positional):
        loc[0] = positional[first["loc"][0]]
    if name is not None:
        loc = [name, *loc]
    argument = loc[0] if loc else (name or "input")
    where = argument + "".join(f"[{part}]" if not part.isidentifier() else f".{part}" for part in loc[1:])
    if first["type"] == "missing_argument":
        message = f"{where} is required"
    else:
        message = f"{where} {_rule(first)}"
        if show_value:
            message += f", got {_preview(first.get('input'))}"
    more = exc.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    error_type = _ERROR_FOR_ARGUMENT.get(argument, ValidationError)
    return error_type(message)


def _rule(error: Any) -> str:
    if error["type"] == "string_unicode":
        return "must be valid Unicode (it holds a lone surrogate)"
    msg = str(error["msg"]).replace(" after validation", "")
    if msg.startswith("Input should be "):  # pydantic's wording for its own rules
        return "must be " + msg[len("Input should be "):]
    if msg.startswith("Value should have") or msg.startswith("String should have") or msg.startswith("List should have"):
        return "must have " + msg.split(" should have ", 1)[1]
    if msg.startswith("Unexpected keyword argument"):
        return "is not an argument of this call"
    return msg


_ADAPTERS: dict[int, TypeAdapter[Any]] = {}


def check(name: str, value: object, kind: Any, *, show_value: bool = True) -> Any:
    """``value`` validated as ``kind`` (one of the types above); a HoloLoomError naming ``name`` if refused.

    Returns the validated value (ids as given; instants as epoch seconds; metadata and
    ``where`` as plain dicts).
    """
    adapter = _ADAPTERS.get(id(kind))
    if adapter is None:
        adapter = _ADAPTERS[id(kind)] = TypeAdapter(kind)
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as exc:
        raise refusal(exc, name, show_value=show_value) from None


def check_text(value: object, *, max_chars: int, name: str = "text") -> str:
    """A text to remember: a non-blank string of valid Unicode, no NUL, at most ``max_chars`` characters."""
    if isinstance(value, str) and len(value) > max_chars:
        raise ValidationError(f"{name} has {len(value):,} characters, more than the limit of {max_chars:,} "
                              "(split it, or raise HOLOLOOM_MAX_TEXT_CHARS)")
    return check(name, value, _Text)


_Text = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_unicode), AfterValidator(_no_nul), AfterValidator(_not_blank)]

F = TypeVar("F", bound=Callable[..., Any])
_CALL_CONFIG = ConfigDict(arbitrary_types_allowed=True)


def validated(fn: F) -> F:
    """Validate every annotated argument of ``fn`` (sync or async) before its body runs.

    pydantic's ``validate_call`` does the work; refusals become HoloLoomErrors (see
    :func:`refusal`). For a coroutine function the check happens when it is awaited.
    """
    checked = pydantic.validate_call(fn, config=_CALL_CONFIG)
    positional = list(inspect.signature(fn).parameters)

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await checked(*args, **kwargs)
            except pydantic.ValidationError as exc:
                raise refusal(exc, positional=positional) from None

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(*args, **kwargs)
        except pydantic.ValidationError as exc:
            raise refusal(exc, positional=positional) from None

    return wrapper  # type: ignore[return-value]
