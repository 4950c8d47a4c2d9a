# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The controller side of module_utils/run_control.py: the file where the ansible-playbook process
publishes decisions its workers must honour at once (a busy limit lowered after backpressure, a
halt after the failure budget tripped). Written atomically; read by every waiting module each tick."""
from __future__ import annotations

import glob
import json
import os
import tempfile
from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import (
    backpressure_signal_path, control_path, process_start)


class RunControlFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._state: dict[str, Any] = {}

    @classmethod
    def for_this_process(cls) -> "RunControlFile":
        pid = os.getpid()
        return cls(control_path(pid, process_start(pid)))

    def publish(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the published state (None removes a key) and write it atomically."""
        for key, value in fields.items():
            if value is None:
                self._state.pop(key, None)
            else:
                self._state[key] = value
        directory = os.path.dirname(self.path) or "."
        fd, tmp = tempfile.mkstemp(prefix=".ironwave-run-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._state, fh)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return dict(self._state)

    def backpressure_signalled(self, host: str) -> bool:
        """Did a task of `host` signal backpressure (RunControl.report_backpressure) since the
        signal was last cleared?"""
        return os.path.exists(backpressure_signal_path(self.path, host))

    def clear_backpressure(self, host: str) -> None:
        try:
            os.unlink(backpressure_signal_path(self.path, host))
        except OSError:
            pass

    def remove(self) -> None:
        """Remove the control file and any backpressure signals left next to it."""
        for path in [self.path] + glob.glob(glob.escape(backpressure_signal_path(self.path, "")) + "*"):
            try:
                os.unlink(path)
            except OSError:
                pass
