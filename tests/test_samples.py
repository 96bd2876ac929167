"""Bundled sample images, their napari providers, and the jigsaw reassembly that built two."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import napari_styletransfer
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.samples import (
    DATA_DIR,
    SAMPLES,
    content_names,
    load_sample,
    napari_samples,
    style_names,
)

REPO = Path(__file__).resolve().parents[1]
MANIFEST = Path(napari_styletransfer.__file__).parent / "napari.yaml"


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_loads_as_small_rgb_uint8(name):
    image = load_sample(name)
    assert image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3
    assert 256 <= max(image.shape[:2]) <= 512
    assert image.std() > 20  # a real picture, not a blank or a stub


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_file_is_a_small_rgb_jpeg(name):
    path = DATA_DIR / SAMPLES[name].filename
    assert path.stat().st_size < 150_000
    with Image.open(path) as img:
        assert img.format == "JPEG"
        assert img.mode == "RGB"


def test_data_folder_holds_only_registered_samples():
    registered = {s.filename for s in SAMPLES.values()}
    assert {p.name for p in DATA_DIR.iterdir()} == registered


def test_samples_are_distinct_pictures():
    thumbnails = [
        np.asarray(Image.fromarray(load_sample(n)).resize((32, 32)), float) for n in SAMPLES
    ]
    for i in range(len(thumbnails)):
        for j in range(i + 1, len(thumbnails)):
            assert np.abs(thumbnails[i] - thumbnails[j]).mean() > 10


def test_style_and_content_names():
    styles, contents = style_names(), content_names()
    assert len(styles) >= 4
    assert {"starry-night", "great-wave", "the-scream", "kandinsky"} <= set(styles)
    assert contents and not set(styles) & set(contents)
    assert set(styles) | set(contents) == set(SAMPLES)


def test_name_lookup_ignores_case_and_spaces():
    np.testing.assert_array_equal(load_sample("  Starry-Night "), load_sample("starry-night"))


def test_unknown_name_raises_a_user_error():
    with pytest.raises(StyleTransferError, match="mona-lisa"):
        load_sample("mona-lisa")


def test_loaded_sample_is_a_private_copy():
    first = load_sample("chelsea")
    first[:] = 0
    assert load_sample("chelsea").any()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_napari_sample_function_returns_layer_data(name):
    provider = getattr(napari_samples, name.replace("-", "_"))
    layers = provider()
    assert isinstance(layers, list) and len(layers) == 1
    data, meta, layer_type = layers[0]
    assert layer_type == "image"
    assert meta == {"name": name, "rgb": True}
    np.testing.assert_array_equal(data, load_sample(name))


def test_manifest_sample_commands_point_at_existing_providers():
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = {c["id"]: c["python_name"] for c in manifest["contributions"]["commands"]}
    keys = set()
    for entry in manifest["contributions"]["sample_data"]:
        module, _, attribute = commands[entry["command"]].partition(":")
        assert module == "napari_styletransfer.samples.napari_samples"
        assert callable(getattr(napari_samples, attribute))
        keys.add(entry["key"])
    assert keys == set(SAMPLES)


# --- the jigsaw reassembly in scripts/build_samples.py -----------------------------


@pytest.fixture(scope="module")
def build_samples():
    """scripts/build_samples.py imported as a module (it is a script, not a package)."""
    path = REPO / "scripts" / "build_samples.py"
    spec = importlib.util.spec_from_file_location("build_samples", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _cut_into_pieces(build_samples, picture, overlap=2):
    """Cut a picture into a 2×3 grid of pieces that overlap by ``overlap`` pixels."""
    height, width = picture.shape[:2]
    rows, cols = [0, height // 2, height], [0, width // 3, 2 * width // 3, width]
    pieces = []
    for r in range(2):
        for c in range(3):
            top, left = max(rows[r] - overlap, 0), max(cols[c] - overlap, 0)
            tile = picture[top : rows[r + 1], left : cols[c + 1]].astype(np.int16)
            mask = np.ones(tile.shape[:2], bool)
            pieces.append(build_samples.Piece(f"p{r}{c}", tile, mask, left, top))
    return pieces


def test_refine_positions_undoes_one_pixel_placement_errors(build_samples):
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    pieces = _cut_into_pieces(build_samples, picture)
    truth = [(p.x, p.y) for p in pieces]
    errors = [(0, 0), (1, 0), (0, -1), (-1, 1), (1, 1), (0, 1)]  # piece 0 is the anchor
    for piece, (dx, dy) in zip(pieces, errors, strict=True):
        piece.x, piece.y = piece.x + dx, piece.y + dy

    build_samples.refine_positions(pieces)

    assert [(p.x, p.y) for p in pieces] == truth


def test_assembled_jigsaw_reproduces_the_picture(build_samples):
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    pieces = _cut_into_pieces(build_samples, picture)
    pieces[4].x += 1  # misplaced, as the rounded board coordinates sometimes are

    assembled = build_samples.assemble_jigsaw(pieces)

    np.testing.assert_array_equal(assembled, picture[1:-1, 1:-1])
