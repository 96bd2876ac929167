"""Property-based tests: any input gives a StyleTransferError or a correct output.

"Correct": the content's shape and dtype, pixels far from the styled region
exactly the content's, and no input array modified. Tiny arrays; mostly fast
mode, a few quality runs of at most 2 steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from napari_styletransfer import stylize
from napari_styletransfer.errors import StyleTransferError

DTYPES = [np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64]
FEATHER = 4


@st.composite
def contents(draw):
    height = draw(st.integers(12, 40))
    width = draw(st.integers(16, 40))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = (height, width) if channels is None else (height, width, channels)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "normal", "extreme", "constant", "special"]))
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        low, high = (info.min, info.max) if kind == "extreme" else (0, min(info.max, 4000))
        array = rng.integers(low, high, shape, dtype=dtype, endpoint=True)
    else:
        scale = {"normal": 1.0, "extreme": 1e300 if dtype == np.float64 else 3e38}.get(kind, 1.0)
        array = (rng.standard_normal(shape) * scale).astype(dtype)
        if kind == "special":
            array.flat[rng.integers(0, array.size)] = rng.choice([np.nan, np.inf, -np.inf])
    if kind == "constant":
        array[...] = array.flat[0]
    return array


def masks(shape) -> tuple[list, list]:
    """(valid, invalid) masks for a content of this shape."""
    height, width = shape[:2]
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - height / 2) ** 2 + (xx - width / 3) ** 2 < (min(height, width) / 3) ** 2
    valid = [None, disc.astype(np.uint8), (disc * np.linspace(0.2, 3.0, width)).astype(np.float32)]
    invalid = [
        np.zeros((height, width)),
        np.ones((height, width), bool),
        np.ones((height + 1, width)),
        np.full((height, width), np.nan),
    ]
    return valid, invalid


# each option: (valid values, invalid values); an example breaks at most one of them,
# so about half the examples produce an output and the other half one refusal
OPTIONS = {
    "device": (["cpu", "auto"], ["cuda", "cuda:7", "tpu", 5, "cpu:99"]),
    "max_size": ([16, 32, 48], [0, -5, 10**9, 2.5, "64"]),
    "style_strength": ([0.0, 0.5, 2.0], [3.0, -1.0, float("nan"), None]),
    "region": (["inside", "outside"], ["around"]),
    "style_weights": ([None], [[1, 2], ["a", "b"], 0.5, [None, 1]]),
    "seed": ([0, 7], [-1, 2**64, "a", None]),
    "feather": ([0, FEATHER], [2.5, -1]),
    "tile_size": ([None, 64], [8]),
}
STYLES = (
    ["preset:3", "preset:3:0.5,12:0.5", ["preset:1", "preset:2"], "starry-night"],
    [
        "preset:99",
        "preset:x",
        "preset:3:1e308,4:1e308",
        "no-such-painting.png",
        ["preset:1", "starry-night"],
        [],
        None,
    ],
)


@st.composite
def cases(draw, styles=STYLES, options=OPTIONS):
    """(content, style, mask, options) with at most one deliberately bad part."""
    content = draw(contents())
    valid_masks, invalid_masks = masks(content.shape)
    parts = {"style": styles, "mask": (valid_masks, invalid_masks), **options}
    broken = draw(st.one_of(st.none(), st.sampled_from(sorted(parts))))
    chosen = {}
    for name, (valid, invalid) in parts.items():
        if name == broken:
            chosen[name] = draw(st.sampled_from(invalid))
        elif name in ("style", "mask") or draw(st.booleans()):
            chosen[name] = draw(st.sampled_from(valid))
    return content, chosen.pop("style"), chosen.pop("mask"), chosen


def check(content, style, mask, options) -> str | None:
    """Run once; return the error message, or None for a checked output."""
    frozen = [a for a in (content, mask, style) if isinstance(a, np.ndarray)]
    copies = [a.copy() for a in frozen]
    for array in frozen:
        array.flags.writeable = False  # any write into a user's array raises
    try:
        out = stylize(content, style, mask=mask, **options)
    except StyleTransferError as error:
        assert str(error)  # a message that says what to change
        return str(error)
    finally:
        for array, copy in zip(frozen, copies, strict=True):
            np.testing.assert_array_equal(array, copy)
    assert out.shape == content.shape and out.dtype == content.dtype
    if mask is not None:
        styled = np.asarray(mask) != 0
        if options.get("region", "inside") == "outside":
            styled = ~styled
        far = ndimage.distance_transform_edt(~styled) > options.get("feather", FEATHER)
        np.testing.assert_array_equal(out[far], content[far])
    return None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(case=cases())
def test_fast_mode_never_fails_another_way(case):
    content, style, mask, options = case
    check(content, style, mask, {"method": "fast", "device": "cpu", **options})


QUALITY_OPTIONS = {
    "steps": ([1, 2], [0, -3, True, 2.5]),
    "style_strength": ([0.5, 1.0], [11.0, None]),
    "content_weight": ([1.0], ["5", None, -1.0]),
    "precision": (["auto", "fp32"], ["fp16", "half"]),
    "learning_rate": ([None], [1e30, 0.0]),
}


@settings(max_examples=8, deadline=None, database=None)
@given(case=cases(styles=(["starry-night"], ["preset:3", None]), options=QUALITY_OPTIONS))
def test_quality_mode_never_fails_another_way(case):
    content, style, mask, options = case
    options = {"method": "quality", "device": "cpu", "max_size": 24, "steps": 2, **options}
    check(content, style, mask, options)


@pytest.mark.parametrize(
    "value",
    [np.iinfo(np.int64).max, np.iinfo(np.int64).min, 2**53 + 1, np.iinfo(np.uint64).max],
)
def test_64_bit_extremes_neither_wrap_nor_drift(value):
    dtype = np.uint64 if value > np.iinfo(np.int64).max else np.int64
    content = np.full((24, 24), value, dtype=dtype)
    content[:, :12] = value // 3
    mask = np.zeros((24, 24), np.uint8)
    mask[:, 18:] = 1
    out = stylize(content, "preset:3", method="fast", mask=mask, device="cpu")
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[:, :10], content[:, :10])  # masked out: exact
    # results stay inside the content's range: a wrapped value would fall far outside it
    assert out.min() >= content.min() and out.max() <= content.max()
