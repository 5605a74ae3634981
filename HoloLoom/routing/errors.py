"""Errors of the learning policy, all inside the :class:`~HoloLoom.errors.HoloLoomError` tree.

    HoloLoomError
    ├── ValidationError
    │   ├── UnknownArmError          a baseline that is not one of the options offered
    │   └── InvalidFeedbackError
    │       └── InvalidRewardError   a reward outside [0, 1], or NaN
    └── RoutingStateError            a state file that cannot be read, written or locked
"""

from __future__ import annotations

from ..errors import HoloLoomError, InvalidFeedbackError, ValidationError

__all__ = ["InvalidRewardError", "RoutingStateError", "UnknownArmError"]


class UnknownArmError(ValidationError):
    """An option (arm or tool) that is not one of those offered."""


class InvalidRewardError(InvalidFeedbackError):
    """A reward that is not a finite number in [0, 1]."""


class RoutingStateError(HoloLoomError):
    """A policy state file is corrupt, from a newer version, or stayed locked too long.

    The message names the file; deleting it resets what HoloLoom learned.
    """
