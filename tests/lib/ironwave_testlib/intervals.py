# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Concurrency read from (start, end) intervals - builds, deploys, task runs."""
from __future__ import annotations

from typing import Iterable


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one moment; one ending when another starts does not overlap it."""
    events = []
    for start, end in intervals:
        events += [(start, 1), (end, -1)]
    peak = cur = 0
    for _when, step in sorted(events):   # (t, -1) sorts before (t, +1): ends before starts
        cur += step
        peak = max(peak, cur)
    return peak
