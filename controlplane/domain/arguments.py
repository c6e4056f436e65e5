"""One invalid argument of a request, as it appears in a Scaleway ``invalid_arguments`` error.

``argument_name`` is the dotted path of the offending value in the request (``volume_size``,
``init_settings.0.value``); ``reason`` is one of the four Scaleway reasons below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    UNKNOWN = "unknown"
    REQUIRED = "required"
    FORMAT = "format"
    CONSTRAINT = "constraint"


@dataclass(frozen=True, slots=True)
class ArgumentError:
    argument_name: str
    reason: str  # a Reason value
    help_message: str
