"""Fast-mode engine: any size, seam-free tiling, blends, strength, progress."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from napari_styletransfer import devices, load_sample
from napari_styletransfer.cli import main
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.fast import cache
from napari_styletransfer.fast.contact_sheet import COLUMNS, GAP, LABEL_HEIGHT
from napari_styletransfer.fast.networks import get_network
from napari_styletransfer.fast.run import fast_stylize, iter_fast_stylize
from napari_styletransfer.fast.streaming import count_steps
from napari_styletransfer.image_io import read_image, write_image

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """Run torch on one thread: these tests use tiny images, where a second
    thread gains nothing and, on a busy shared machine, waiting for it at
    every operation made them ~100× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / 64.0
    channels = [np.sin(x * (1 + c) + y) * np.cos(y * (2 - c / 2)) for c in range(3)]
    image = 0.5 + 0.4 * np.stack(channels, -1) + 0.05 * rng.standard_normal((height, width, 3))
    return np.clip(image, 0, 1).astype(np.float32)


@pytest.fixture
def float32_only(monkeypatch):
    """Run the networks in float32 so that comparisons are exact up to rounding."""
    monkeypatch.setattr(devices, "network_precision", lambda device: "fp32")


@pytest.mark.parametrize("style", ["preset:7", "image"])
@pytest.mark.parametrize(("height", "width"), [(37, 53), (64, 100)])
def test_output_shape_dtype_and_range(style, height, width):
    content = photo(height, width)
    spec = [photo(80, 60, seed=5)] if style == "image" else style
    out = fast_stylize(content, spec, device=CPU)
    assert out.shape == (height, width, 3)
    assert out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert np.abs(out - content).mean() > 0.02  # it did restyle the picture


@pytest.mark.parametrize("style", ["preset:19", "image"])
def test_tiles_match_the_untiled_result_without_seams(float32_only, style):
    content = photo(200, 264)
    spec = [photo(90, 120, seed=6)] if style == "image" else style
    whole = fast_stylize(content, spec, device=CPU)
    tiled = fast_stylize(content, spec, device=CPU, tile_size=64)
    difference = np.abs(tiled - whole)
    # exact statistics in the tiled run too, so only rounding differs
    assert difference.max() < 1e-3
    # and nothing special happens where tiles meet (rows/columns at multiples of 64)
    seams = np.concatenate([difference[62:66].ravel(), difference[:, 126:130].ravel()])
    assert seams.max() < 1e-3


def test_tiles_of_a_larger_image_are_exact_too(float32_only):
    # a real photo, tiles of several sizes, both networks
    content = np.asarray(Image.fromarray(load_sample("astronaut")).resize((300, 236)))
    content = content.astype(np.float32) / 255
    for spec in ("preset:4", [photo(60, 60, seed=3)]):
        whole = fast_stylize(content, spec, device=CPU)
        for tile_size in (96, 128):
            tiled = fast_stylize(content, spec, device=CPU, tile_size=tile_size)
            assert np.abs(tiled - whole).max() < 1e-3


def test_bfloat16_stays_close_to_float32(monkeypatch):
    # forced on: the path must be right on any CPU (it is only chosen where it is fast)
    monkeypatch.setattr(devices, "network_precision", lambda device: "bf16")
    content = photo(96, 128)
    fast = fast_stylize(content, "preset:7", device=CPU)
    monkeypatch.setattr(devices, "network_precision", lambda device: "fp32")
    cache.last_preset_output.clear()
    exact = fast_stylize(content, "preset:7", device=CPU)
    assert not np.array_equal(fast, exact)  # really two different computations
    assert np.abs(fast - exact).mean() < 0.005
    assert np.abs(fast - exact).max() < 0.1


def test_blend_with_weight_zero_equals_the_single_preset(float32_only):
    content = photo(48, 64)
    single = fast_stylize(content, "preset:3", device=CPU)
    np.testing.assert_array_equal(fast_stylize(content, "preset:3:1,12:0", device=CPU), single)
    np.testing.assert_array_equal(fast_stylize(content, {3: 2.0, 12: 0.0}, device=CPU), single)
    mixed = fast_stylize(content, "preset:3:0.5,12:0.5", device=CPU)
    other = fast_stylize(content, "preset:12", device=CPU)
    assert np.abs(mixed - single).mean() > 0.01 and np.abs(mixed - other).mean() > 0.01


def test_a_list_of_presets_with_weights_is_a_blend(float32_only):
    content = photo(48, 64)
    listed = fast_stylize(content, ["preset:3", "preset:12"], style_weights=[1, 3], device=CPU)
    spec = fast_stylize(content, "preset:3:0.25,12:0.75", device=CPU)
    np.testing.assert_allclose(listed, spec, atol=1e-6)


def test_style_image_weights_one_to_zero_equal_the_single_image(float32_only):
    content, first, second = photo(48, 64), photo(70, 50, seed=1), photo(40, 90, seed=2)
    single = fast_stylize(content, [first], device=CPU)
    weighted = fast_stylize(content, [first, second], style_weights=[1, 0], device=CPU)
    np.testing.assert_array_equal(weighted, single)


def test_preset_strength_blends_with_the_content():
    content = photo(48, 64)
    np.testing.assert_allclose(
        fast_stylize(content, "preset:5", strength=0.0, device=CPU), content, atol=1e-6
    )
    full = fast_stylize(content, "preset:5", device=CPU)
    half = fast_stylize(content, "preset:5", strength=0.5, device=CPU)
    np.testing.assert_allclose(half, (full + content) / 2, atol=1e-5)


def test_a_new_strength_reuses_the_preset_output():
    content = photo(48, 64)
    full = fast_stylize(content, "preset:6", device=CPU)
    reports = list(iter_fast_stylize(content, "preset:6", strength=0.5, device=CPU))
    assert "reused" in reports[-1].stage
    changed = content.copy()
    changed[0, 0] = 1 - changed[0, 0]
    reports = list(iter_fast_stylize(changed, "preset:6", strength=0.5, device=CPU))
    assert "reused" not in reports[-1].stage
    np.testing.assert_allclose(
        fast_stylize(content, "preset:6", strength=0.5, device=CPU), (full + content) / 2, atol=1e-5
    )


def test_style_image_strength_moves_towards_the_content():
    content, style = photo(64, 64), photo(64, 64, seed=9)[:, ::-1] ** 3
    distances = [
        np.abs(fast_stylize(content, [style], strength=s, device=CPU) - content).mean()
        for s in (0.0, 1.0)
    ]
    assert distances[0] < distances[1]


def test_progress_is_reported_per_tile():
    runner = iter_fast_stylize(photo(128, 160), "preset:1", device=CPU, tile_size=64)
    reports = []
    while True:
        try:
            reports.append(next(runner))
        except StopIteration as stop:
            result = stop.value
            break
    assert result.shape == (128, 160, 3)
    total = count_steps(get_network("multistyle", CPU).transformer, 128, 160, 64)
    # 2 × 3 tiles in each of 3 contracting passes, the residual blocks, 4 expanding passes
    assert total == 3 * 6 + 1 + 4 * 6
    assert [r.step for r in reports] == list(range(1, total + 1))
    assert all(r.total == total for r in reports) and reports[-1].fraction == 1.0
    assert reports[-1].stage.endswith("expanding stage: tile 6/6")


@pytest.mark.parametrize(
    ("style", "kwargs"),
    [
        ("preset:26", {}),
        ("starry-night", {}),
        ([], {}),
        ("preset:1", {"strength": 2.5}),
        ("preset:1", {"strength": float("nan")}),
        ("preset:1", {"tile_size": 16}),
        ([np.zeros((20, 20, 3), np.float32)], {"style_weights": [1, 1]}),
        (["preset:1", np.zeros((20, 20, 3), np.float32)], {}),
    ],
)
def test_bad_requests_raise_style_transfer_error(style, kwargs):
    with pytest.raises(StyleTransferError):
        fast_stylize(photo(32, 32), style, device=CPU, **kwargs)


def test_too_small_or_not_rgb_content_is_refused():
    with pytest.raises(StyleTransferError):
        fast_stylize(photo(8, 40), "preset:1", device=CPU)
    with pytest.raises(StyleTransferError):
        fast_stylize(np.zeros((32, 32), np.float32), "preset:1", device=CPU)


def test_fast_package_imports_no_qt_or_napari():
    import subprocess
    import sys

    code = (
        "import sys, napari_styletransfer.fast.run\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt5', 'PyQt6')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# the `presets` subcommand (contact sheet of all 26 presets)


def test_presets_sheet_has_the_photo_and_26_presets(tmp_path, capsys):
    rng = np.random.default_rng(0)
    photo = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
    source = write_image(tmp_path / "photo.png", np.kron(photo, np.ones((2, 2, 1), np.uint8)))
    out = tmp_path / "sheet.png"
    code = main(["presets", str(source), "-o", str(out), "--max-size", "48", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    sheet = read_image(out)
    tile_h, tile_w = 36, 48  # the 60×80 photo fitted into 48 px
    rows = 4  # original + 26 presets in 7 columns
    assert sheet.shape == (
        rows * (tile_h + LABEL_HEIGHT + GAP) + GAP,
        COLUMNS * (tile_w + GAP) + GAP,
        3,
    )
    assert (summary["width"], summary["height"]) == (sheet.shape[1], sheet.shape[0])

    # the tiles differ from one another (each preset painted something different)
    def tile(n):
        r, c = divmod(n, COLUMNS)
        y, x = GAP + r * (tile_h + LABEL_HEIGHT + GAP) + LABEL_HEIGHT, GAP + c * (tile_w + GAP)
        return sheet[y : y + tile_h, x : x + tile_w].astype(float)

    assert np.abs(tile(1) - tile(2)).mean() > 5
    assert np.abs(tile(0) - tile(26)).mean() > 5


def test_presets_bad_size_exits_with_2(tmp_path, capsys):
    source = write_image(tmp_path / "photo.png", np.zeros((40, 40, 3), np.uint8))
    code = main(["presets", str(source), "-o", str(tmp_path / "s.png"), "--max-size", "8"])
    assert code == 2
    assert "max-size" in capsys.readouterr().err


# through the public API: formats and masks are handled there for both methods


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("gray", [False, True])
def test_api_fast_keeps_shape_and_dtype(dtype, gray):
    from napari_styletransfer import stylize

    high = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}[dtype]
    content = (photo(40, 56) * high).astype(dtype)
    if gray:
        content = content[..., 0]
    out = stylize(content, "preset:7", method="fast", max_size=64, device="cpu")
    assert out.shape == content.shape and out.dtype == content.dtype
    assert out.max() <= high


def test_api_fast_respects_the_mask():
    from napari_styletransfer import stylize

    content = (photo(64, 80) * 255).astype(np.uint8)
    mask = np.zeros((64, 80), bool)
    mask[16:48, 20:60] = True
    out = stylize(content, "preset:3", method="fast", mask=mask, max_size=80, device="cpu")
    far_outside = np.ones_like(mask)
    far_outside[8:56, 12:68] = False  # more than the 4 px feather away from the mask
    np.testing.assert_array_equal(out[far_outside], content[far_outside])
    assert np.abs(out[mask].astype(int) - content[mask]).mean() > 10
