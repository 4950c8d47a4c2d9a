# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

from ironwave_testlib.intervals import peak_overlap


def test_touching_intervals_do_not_overlap():
    assert peak_overlap([(0, 1), (1, 2), (2, 3)]) == 1


def test_nested_and_staggered_intervals():
    assert peak_overlap([(0, 3), (1, 2), (1.5, 4)]) == 3


def test_no_interval():
    assert peak_overlap([]) == 0
