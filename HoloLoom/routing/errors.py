"""Errors of the routing package, all inside the :class:`~HoloLoom.errors.HoloLoomError` tree.

    HoloLoomError
    ├── ValidationError
    │   ├── UnknownArmError          an arm name this router was not built with
    │   ├── UnknownQueryTypeError    a query type this router was not built with
    │   └── InvalidFeedbackError
    │       └── InvalidRewardError   a reward/relevance/confidence outside [0, 1], or NaN
    └── RoutingStateError            a state file that cannot be read, written or locked
"""

from __future__ import annotations

from ..errors import HoloLoomError, InvalidFeedbackError, ValidationError

__all__ = ["InvalidRewardError", "RoutingStateError", "UnknownArmError", "UnknownQueryTypeError"]


class UnknownArmError(ValidationError):
    """An arm name that is not one of the router's arms."""


class UnknownQueryTypeError(ValidationError):
    """A query type that is not one of the router's query types."""


class InvalidRewardError(InvalidFeedbackError):
    """A reward (or relevance, confidence) that is not a finite number in [0, 1]."""


class RoutingStateError(HoloLoomError):
    """A routing state file is corrupt, from a newer version, or stayed locked too long.

    The message names the file; deleting it (or the whole ``routing`` directory) resets
    what the router learned.
    """
