# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Poll until a condition holds, failing the test with what was awaited."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.3,
             tolerate_errors: bool = False) -> Any:
    """The predicate's first truthy value within `timeout` s. tolerate_errors: an exception counts
    as not yet (an API restarting)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - only when the caller tolerates errors
            if not tolerate_errors:
                raise
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
