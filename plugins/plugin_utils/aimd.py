# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Additive-increase / multiplicative-decrease (AIMD) window controller.

Pure Python. The wave strategy asks it how many hosts may be in flight: a backpressure signal
(the cloud said "too busy": ConcurrentActionLimit, NoFreeConductorWorker, 503) cuts the window
multiplicatively so the load drops fast; every host that then finishes cleanly grows it back by
one, never past the configured cap. That is TCP's congestion rule: it converges on what the cloud
can take instead of oscillating between "full blast" and "stopped".
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AimdWindow:
    """The effective window. ``value`` is always within [floor, cap]."""

    cap: int
    factor: float = 0.5
    floor: int = 1
    value: int = field(default=0)
    decreases: int = 0

    def __post_init__(self) -> None:
        if self.cap < 1:
            raise ValueError("AIMD cap must be >= 1, got %r" % (self.cap,))
        if not 0.0 < self.factor < 1.0:
            raise ValueError("AIMD factor must be between 0 and 1 (exclusive), got %r" % (self.factor,))
        self.floor = max(1, min(self.floor, self.cap))
        if self.value <= 0:
            self.value = self.cap
        self.value = max(self.floor, min(self.value, self.cap))

    def on_backpressure(self, current: int | None = None) -> int:
        """Multiplicative decrease. ``current`` is the window actually in force (it may be lower
        than ``value`` because a wave is smaller): decreasing from the real figure avoids a
        "decrease" that changes nothing."""
        base = self.value if current is None else max(self.floor, min(current, self.value))
        self.value = max(self.floor, int(base * self.factor))
        self.decreases += 1
        return self.value

    def on_success(self) -> int:
        """Additive increase by one, capped."""
        self.value = min(self.cap, self.value + 1)
        return self.value
