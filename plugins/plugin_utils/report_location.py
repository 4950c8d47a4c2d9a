# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Where the wave report files go (pure, controller side).

AWX runs a job in a project directory it throws away afterwards and keeps only what ansible-runner
puts in the job's artifacts directory, which runner names in AWX_ISOLATED_DATA_DIR. So a report
path left at its default goes there (under `ironwave/`, same file name); a path the user set, by
any means, is kept as given, and outside runner the default stays relative to the working
directory."""
from __future__ import annotations

import os
from typing import Mapping, Optional

ARTIFACTS_ENV = "AWX_ISOLATED_DATA_DIR"
SUBDIR = "ironwave"


def report_path(value: Optional[str], origin: str, env: Mapping[str, str]) -> Optional[str]:
    """The file to write for one report option (`value` as configured, `origin` as Ansible reports
    it: "default" when nobody set it); None when the option is empty (disabled)."""
    if not value:
        return None
    artifacts = env.get(ARTIFACTS_ENV)
    if origin == "default" and artifacts:
        return os.path.join(artifacts, SUBDIR, os.path.basename(value))
    return value
