"""Output files: checked before work, written under a temporary name, never over an input."""

import os

import numpy as np
import pytest

from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.files import atomic_output, check_output
from napari_styletransfer.image_io import read_image, write_image


def test_check_output_refuses_inputs_existing_files_and_folders(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    with pytest.raises(StyleTransferError, match="also an input"):
        check_output(photo, overwrite=True, inputs=[photo])
    with pytest.raises(StyleTransferError, match="exists"):
        check_output(photo)
    assert check_output(photo, overwrite=True) == photo
    with pytest.raises(StyleTransferError, match="folder"):
        check_output(tmp_path)
    blocker = tmp_path / "file.png"
    blocker.write_bytes(b"x")
    with pytest.raises(StyleTransferError, match="Cannot create"):
        check_output(blocker / "x.png")
    assert check_output(tmp_path / "new" / "deeper" / "out.png").parent.is_dir()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "out.png"
    write_image(out, np.zeros((8, 8, 3), np.uint8))
    before = out.read_bytes()
    with pytest.raises(StyleTransferError, match="Cannot write"):
        write_image(out.with_suffix(".xbm"), np.zeros((8, 8, 3), np.uint16))
    with pytest.raises(RuntimeError), atomic_output(out) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("crash")
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


@pytest.mark.parametrize(
    ("suffix", "array"),
    [
        (".png", (np.arange(64 * 48, dtype=np.uint16) * 20).reshape(48, 64)),
        (".tif", (np.arange(64 * 48, dtype=np.int32) * 90_001).reshape(48, 64)),
        (".tif", np.linspace(-3.5, 1e6, 64 * 48, dtype=np.float32).reshape(48, 64)),
        (".tif", np.random.default_rng(0).integers(0, 65535, (48, 64, 3), dtype=np.uint16)),
        (".png", np.random.default_rng(1).integers(0, 255, (48, 64, 4), dtype=np.uint8)),
    ],
)
def test_round_trips_keep_dtype_and_values(tmp_path, suffix, array):
    path = write_image(tmp_path / f"x{suffix}", array)
    back = read_image(path)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_images_declaring_too_many_pixels_are_refused_before_decoding(tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(big)
    with pytest.raises(StyleTransferError, match="declares 12,000,000 pixels"):
        read_image(big, max_pixels=1_000_000)
    assert read_image(big).shape == (3000, 4000)


def test_truncated_files_are_refused(tmp_path):
    good = tmp_path / "good.png"
    write_image(good, np.full((64, 64, 3), 128, np.uint8))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:60])
    with pytest.raises(StyleTransferError, match="Cannot read"):
        read_image(cut)
