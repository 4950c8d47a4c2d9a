# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Process facts the service tests check (Linux /proc)."""
from __future__ import annotations

from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    """A live (non-zombie) process with that PID."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
