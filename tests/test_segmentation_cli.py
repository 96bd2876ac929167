"""``napari-styletransfer segment`` through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from napari_styletransfer import load_sample


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "napari_styletransfer.cli", "segment", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_segment_writes_binary_png_of_image_size(tmp_path):
    photo = load_sample("chelsea")[::2, ::3]  # an odd size on purpose
    source = tmp_path / "cat.png"
    Image.fromarray(np.ascontiguousarray(photo)).save(source)
    output = tmp_path / "out" / "mask.png"
    done = run_cli(str(source), "-o", str(output), "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr
    mask = np.asarray(Image.open(output))
    assert mask.shape == photo.shape[:2]
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    assert 0.2 < (mask == 255).mean() < 0.95  # the cat fills much, not all, of the photo
    report = json.loads(done.stdout)
    assert report["width"] == photo.shape[1] and report["height"] == photo.shape[0]
    assert 0.8 <= report["mirror_agreement"] <= 1 and report["ambiguous"] is False
    assert "ambiguous" not in done.stderr


def test_segment_warns_when_the_subject_is_ambiguous(tmp_path, monkeypatch, capsys):
    from napari_styletransfer import segmentation
    from napari_styletransfer.cli import main

    def unsure(image, *, device):
        return segmentation.SubjectPrediction(np.ones(image.shape[:2], np.float32), 0.3)

    monkeypatch.setattr(segmentation, "predict_subject", unsure)
    source = tmp_path / "cat.png"
    Image.fromarray(load_sample("chelsea")[::4, ::4].copy()).save(source)
    assert main(["segment", str(source), "-o", str(tmp_path / "m.png"), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ambiguous"] is True and report["mirror_agreement"] == 0.3
    assert "ambiguous" in err and "30%" in err


def test_segment_missing_file_exits_2(tmp_path):
    done = run_cli(str(tmp_path / "nope.png"), "-o", str(tmp_path / "mask.png"))
    assert done.returncode == 2
    assert "No such image file" in done.stderr
    assert "Traceback" not in done.stderr


def test_segment_bad_threshold_exits_2(tmp_path):
    source = tmp_path / "cat.png"
    Image.fromarray(load_sample("chelsea")[::4, ::4].copy()).save(source)
    done = run_cli(str(source), "-o", str(tmp_path / "m.png"), "--threshold", "3")
    assert done.returncode == 2
    assert "threshold" in done.stderr
