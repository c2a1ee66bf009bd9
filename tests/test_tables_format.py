"""The one number formatter of every console and report table (`aimcsim.outputs.console`):
significant digits, thousands separators, units scaled."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aimcsim.outputs.console import (
    formatted,
    number,
    percent,
    point_label,
    quantity,
    table_lines,
)


@pytest.mark.parametrize(("value", "text"), [
    (0.003150406504065062, "0.003150"), (76438.74, "76,439"), (5.3905, "5.391"),
    (170656500, "170,656,500"), (np.int64(78464), "78,464"), (360.0, "360"),
    (-0.1234567, "-0.1235"), (999.96, "1,000"), (0.0, "0"), (8.3e-7, "8.300e-07"),
    (float("nan"), "–"), (None, "–"), ("overlapped", "overlapped")])
def test_a_number_to_four_significant_digits_with_separators(value, text):
    assert number(value) == text


@pytest.mark.parametrize(("value", "unit", "text"), [
    (170656500.0, "ns", "170.7 ms"), (76438.74, "ns", "76.44 µs"), (256, "ns", "256 ns"),
    (3.2e9, "ns", "3.200 s"), (999_960.0, "ns", "1.000 ms"),  # (rounded up into the next unit)
    (5390522626.885067, "pJ", "5.391 mJ"), (14037819.34, "pJ", "14.04 µJ"),
    (412044757.54, "pJ*s", "412.0 µJ·s"), (78464, "B", "76.62 KiB"), (131072, "B", "128 KiB"),
    (512, "B", "512 B"), (3 * 2 ** 30, "B", "3 GiB"), (1192.187, "mm^2", "1,192 mm^2"),
    (float("nan"), "pJ", "–"), (None, "ns", "–")])
def test_a_quantity_in_the_largest_unit_it_is_one_of(value, unit, text):
    assert quantity(value, unit) == text


def test_percentages_ratios_and_other_units():
    assert percent(0.3495607613469984) == "35.0%"
    assert percent(0.0012866774099102106) == "0.129%"
    assert percent(0.2330727586561474, sign=True) == "+23.3%"
    assert percent(-0.005, sign=True) == "-0.500%"
    assert formatted(272.4, "x") == "272x" and formatted(1.5, "x") == "1.50x"
    assert formatted(5023.6, "tokens/s") == "5,024 tokens/s"
    assert formatted(math.nan, "tokens/s") == "–"
    assert formatted(0.5, "%") == "50%" and formatted(0.5, "+%") == "+50%"


def test_a_console_table_aligns_text_left_and_figures_right():
    rows = [{"mode": "aimc-only", "setting": "overlapped x16", "latency": "76.44 ms"},
            {"mode": "hybrid", "setting": "sequential x2", "latency": "194.3 ms"}]
    assert table_lines(rows) == [
        "mode       setting          latency",
        "aimc-only  overlapped x16  76.44 ms",
        "hybrid     sequential x2   194.3 ms"]


def test_a_sweep_point_is_labelled_by_its_axis_values():
    assert point_label({"aimc.integration_time_ns": 128.0, "pipeline.parallel_tokens":
                        np.int64(16), "pipeline.strategy": "overlapped", "x.f": 0.5}) == (
        "aimc.integration_time_ns=128, pipeline.parallel_tokens=16, "
        "pipeline.strategy=overlapped, x.f=0.5")
