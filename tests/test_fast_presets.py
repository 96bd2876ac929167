"""Preset specs: parsing, normalisation and errors."""

from __future__ import annotations

import pytest

from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.fast.presets import PRESET_NAMES, describe_preset, parse_preset


def test_single_presets():
    assert parse_preset("preset:7") == {7: 1.0}
    assert parse_preset("  PRESET:0 ") == {0: 1.0}
    assert len(PRESET_NAMES) == 26 and parse_preset(PRESET_NAMES[25]) == {25: 1.0}


def test_blends_are_normalised_and_drop_zero_weights():
    assert parse_preset("preset:3:0.5,12:0.5") == {3: 0.5, 12: 0.5}
    assert parse_preset("preset:3:1,12:3") == {3: 0.25, 12: 0.75}
    assert parse_preset("preset:3:1,12:0") == {3: 1.0}
    assert parse_preset("preset:3, 3") == {3: 1.0}


def test_not_a_preset_gives_none():
    assert parse_preset("starry-night") is None
    assert parse_preset("7") is None


@pytest.mark.parametrize(
    "spec",
    [
        "preset:",
        "preset:26",
        "preset:-1",
        "preset:x",
        "preset:3:abc",
        "preset:3:-1",
        "preset:3:nan",
        "preset:3:inf",
        "preset:3:0",
        "preset:3:0.5,,12:0.5",
    ],
)
def test_bad_specs_raise(spec):
    with pytest.raises(StyleTransferError):
        parse_preset(spec)


def test_describe():
    assert describe_preset({7: 1.0}) == "preset 7"
    assert describe_preset({3: 0.5, 12: 0.5}) == "presets 3 50% + 12 50%"
