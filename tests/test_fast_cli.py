"""``napari-styletransfer presets``: the contact sheet of all 26 presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_styletransfer.cli import main
from napari_styletransfer.fast.contact_sheet import COLUMNS, GAP, LABEL_HEIGHT
from napari_styletransfer.image_io import read_image, write_image


@pytest.fixture(autouse=True)
def one_thread():
    """Run torch on one thread: these tests use tiny images, where a second
    thread gains nothing and, on a busy shared machine, waiting for it at
    every operation made them ~100× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
