"""The CLI, run as a user would: a subprocess with files."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from napari_styletransfer.image_io import read_image


def cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "napari_styletransfer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:48, :64]
    content = np.dstack([xx * 4, yy * 5, (xx + yy) * 2]).astype(np.uint8)
    style = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[8:40, 10:54] = 255
    paths = {
        "content": folder / "content.png",
        "style": folder / "style.png",
        "mask": folder / "mask.png",
    }
    Image.fromarray(content).save(paths["content"])
    Image.fromarray(style).save(paths["style"])
    Image.fromarray(mask).save(paths["mask"])
    paths["folder"] = folder
    return paths


def test_stylize_json(files):
    out = files["folder"] / "out.png"
    result = cli(
        "stylize",
        files["content"],
        "--style",
        files["style"],
        "-o",
        out,
        "--max-size",
        48,
        "--steps",
        3,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["output"] == str(out.resolve())
    assert (summary["width"], summary["height"]) == (64, 48)
    assert summary["device"] == "cpu" and summary["seconds"] > 0
    assert {"content", "style", "total"} <= set(summary["losses"])
    assert read_image(out).shape == (48, 64, 3)


def test_stylize_masked_blend_with_bundled_style(files):
    out = files["folder"] / "masked.png"
    result = cli(
        "stylize",
        files["content"],
        "--style",
        "starry-night",
        "--style",
        files["style"],
        "--style-weights",
        "0.7,0.3",
        "--mask",
        files["mask"],
        "--region",
        "outside",
        "-o",
        out,
        "--max-size",
        48,
        "--steps",
        3,
        "--preserve-color",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # quiet when not a terminal
    styled, content = read_image(out), read_image(files["content"])
    assert np.array_equal(styled[16:32, 20:44], content[16:32, 20:44])  # inside the mask: kept
    assert not np.array_equal(styled[:4], content[:4])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stylize", "missing.png", "--style", "starry-night", "-o", "x.png"], "No such image"),
        (["stylize", "{content}", "--style", "nope", "-o", "x.png"], "neither a file"),
        (
            ["stylize", "{content}", "--style", "starry-night", "-o", "x.png", "--max-size", "4"],
            "max_size",
        ),
        (
            [
                "stylize",
                "{content}",
                "--style",
                "starry-night",
                "-o",
                "x.png",
                "--style-weights",
                "a,b",
            ],
            "style-weights",
        ),
        (
            ["stylize", "{content}", "--style", "starry-night", "-o", "x.png", "--mask", "{style}"],
            "does not match",
        ),
        (
            ["stylize", "{content}", "--style", "starry-night", "-o", "x.png", "--device", "tpu"],
            "Unknown device",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(files, args, message):
    args = [a.format(content=files["content"], style=files["style"]) for a in args]
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_exits_2(files):
    result = cli(
        "stylize", files["content"], "--style", "starry-night", "-o", "x.png", "--device", "cuda"
    )
    assert result.returncode == 2 and "CUDA" in result.stderr


def test_usage_error_exits_2():
    result = cli("stylize")
    assert result.returncode == 2


def test_demo_writes_pictures_and_a_sheet(tmp_path):
    result = cli("demo", "-o", tmp_path, "--max-size", 32, "--steps", 2, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert len(summary["outputs"]) >= 5  # every bundled painting plus one masked run
    (masked,) = [name for name in summary["outputs"] if "background-only" in name]
    # the subject the bundled UNet finds is kept pixel for pixel; the rest is stylised
    content = read_image(tmp_path / "astronaut.png")
    kept = (read_image(masked) == content).all(-1)
    assert 0.2 < kept.mean() < 0.9
    sheet = read_image(summary["sheet"])
    assert sheet.shape[0] == 256 and sheet.shape[1] > 5 * 256
