# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Puts tests/lib (the ironwave_testlib helper package) on sys.path for every test."""
from __future__ import annotations

import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parent / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)
