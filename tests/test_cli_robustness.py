"""The CLI as a careful user tries it: nothing lost, nothing overwritten, one clear line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer.cli import main
from napari_styletransfer.image_io import read_image

FAST = ["--method", "fast", "--style", "preset:3", "--device", "cpu"]


@pytest.fixture
def photo(tmp_path):
    yy, xx = np.mgrid[:40, :56]
    path = tmp_path / "photo.png"
    Image.fromarray(np.dstack([xx * 4, yy * 6, xx + yy]).astype(np.uint8)).save(path)
    return path


def refused(capsys, args, message):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err


def test_the_input_is_never_the_output(capsys, photo):
    before = photo.read_bytes()
    for extra in ([], ["--overwrite"]):
        refused(capsys, ["stylize", photo, *FAST, "-o", photo, *extra], "also an input")
    assert photo.read_bytes() == before


def test_an_existing_output_needs_overwrite(capsys, photo, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    refused(capsys, ["stylize", photo, *FAST, "-o", out], "--overwrite")
    assert out.read_bytes() == b"precious"
    assert main(["stylize", str(photo), *FAST, "-o", str(out), "--overwrite"]) == 0
    assert read_image(out).shape == (40, 56, 3)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{tmp}", "folder"),
        ("/proc/newdir/x.png", "Cannot create"),
        ("{photo}/x.png", "Cannot create"),
        ("{tmp}/x.unknownformat", "Cannot write"),
    ],
)
def test_bad_outputs_exit_2_and_leave_nothing(capsys, photo, tmp_path, output, message):
    target = output.format(tmp=tmp_path, photo=photo)
    refused(capsys, ["stylize", photo, *FAST, "-o", target], message)
    assert sorted(os.listdir(tmp_path)) == ["photo.png"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "18446744073709551616"], "seed"),
        (["--max-size", "0"], "max_size"),
        (["--steps", "0"], "steps"),
        (["--style-strength", "nan"], "style_strength"),
    ],
)
def test_bad_numbers_exit_2(capsys, photo, tmp_path, extra, message):
    refused(capsys, ["stylize", photo, *FAST, "-o", tmp_path / "o.png", *extra], message)


def test_decompression_bombs_are_refused_before_decoding(capsys, photo, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("L", (12_000, 12_000)).save(bomb)  # 144 MP in a small file
    assert bomb.stat().st_size < 1_000_000
    start = time.perf_counter()
    refused(capsys, ["stylize", bomb, *FAST, "-o", tmp_path / "o.png"], "declares")
    assert time.perf_counter() - start < 5
    refused(
        capsys,
        ["stylize", photo, *FAST, "--mask", bomb, "-o", tmp_path / "o.png", "--max-pixels", 10**6],
        "declares",
    )


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grayscale_in_and_out(photo, tmp_path, suffix):
    gray = (np.linspace(0, 60_000, 40 * 56).reshape(40, 56)).astype(np.uint16)
    source = tmp_path / f"gray{suffix}"
    from napari_styletransfer.image_io import write_image

    write_image(source, gray)
    out = tmp_path / f"out{suffix}"
    assert main(["stylize", str(source), *FAST, "-o", str(out)]) == 0
    result = read_image(out)
    assert result.dtype == np.uint16 and result.shape == gray.shape
    assert result.max() > 255  # the 16-bit range is kept


def test_demo_checks_everything_before_its_first_picture(capsys, tmp_path):
    (tmp_path / "sheet.png").write_bytes(b"mine")
    refused(capsys, ["demo", "-o", tmp_path, "--steps", "2"], "--overwrite")
    assert sorted(os.listdir(tmp_path)) == ["sheet.png"]
    refused(capsys, ["demo", "-o", tmp_path / "new", "--steps", "0"], "steps")
    assert not (tmp_path / "new").exists() or not os.listdir(tmp_path / "new")


def test_ctrl_c_leaves_no_partial_output(photo, tmp_path):
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "napari_styletransfer.cli", "stylize", str(photo)]
    command += ["--style", "starry-night", "--steps", "5000", "--max-size", "56", "-o", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # past the imports: inside the optimisation
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert sorted(os.listdir(tmp_path)) == ["photo.png"]
