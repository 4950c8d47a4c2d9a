# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The services' ISO 8601 timestamps as epoch seconds (pure, no I/O)."""
from __future__ import annotations

import datetime as dt
from typing import Any


def parse_iso(value: Any) -> float | None:
    """An ISO 8601 timestamp as Ironic and Nova write it ("2026-12-06T07:40:01.123456+00:00",
    "...Z", or naive, which they mean as UTC) as epoch seconds; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()
