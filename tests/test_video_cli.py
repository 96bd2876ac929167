"""``napari-styletransfer stylize clip.mp4 … -o out.mp4``: a real subprocess and real files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer.cli import main
from napari_styletransfer.video import open_video
from test_video_io import moving_frames, write

FAST = ["--style", "preset:3", "--method", "fast", "--max-size", "64", "--device", "cpu"]


def command(*args) -> list[str]:
    return [sys.executable, "-m", "napari_styletransfer.cli", *map(str, args)]


def test_a_video_keeps_its_frame_count_rate_and_size(tmp_path):
    clip = write(tmp_path / "clip.avi", count=7, fps=15)
    out = tmp_path / "out.webm"
    done = subprocess.run(
        command("stylize", clip, *FAST, "-o", out, "--json"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["frames"] == 7 and summary["temporal"] is True
    with open_video(out) as reader:
        assert reader.info.shape == (7, 48, 64, 3) and reader.fps == pytest.approx(15)
        assert np.abs(reader[3].astype(int) - list(moving_frames(7))[3]).mean() > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi", "out.webm"]


def test_progress_lines_and_ctrl_c_leave_a_playable_partial_file(tmp_path):
    clip = write(tmp_path / "clip.mp4", count=400, fps=25)
    out = tmp_path / "out.mp4"
    process = subprocess.Popen(
        command("stylize", clip, *FAST, "-o", out),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if line.startswith("frame 3/400"):
            break
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130
    assert "left" in lines[0] and lines[0].startswith("frame 1/400")
    assert "out.partial.mp4" in rest
    assert not out.exists()
    with open_video(tmp_path / "out.partial.mp4") as partial:
        assert 3 <= len(partial) < 400 and partial.fps == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.partial.mp4"]


def run_main(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_bad_video_input_exits_2_with_one_line(tmp_path, capsys):
    clip = write(tmp_path / "clip.mp4", count=6, fps=10)
    cut = tmp_path / "cut.webm"
    data = write(cut, count=30, fps=10).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    masks = tmp_path / "masks"
    masks.mkdir()
    for number in range(4):
        Image.fromarray(np.full((48, 64), 255, np.uint8)).save(masks / f"m{number}.png")
    cases = [
        ((cut, *FAST, "-o", tmp_path / "a.mp4"), "truncated"),
        ((clip, *FAST, "-o", tmp_path / "a.xyz"), "no encoder"),
        ((clip, *FAST, "-o", tmp_path / "a.png"), "is a video"),
        ((clip, *FAST, "-o", clip, "--overwrite"), "also an input"),
        ((clip, *FAST, "--mask", masks, "-o", tmp_path / "a.mp4"), "4 frames but the video has 6"),
        ((tmp_path / "none.mp4", *FAST, "-o", tmp_path / "a.mp4"), "No such video"),
    ]
    for args, message in cases:
        code, err = run_main(capsys, "stylize", *args)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "cut.webm", "masks"]


def test_a_folder_of_frames_in_and_out_with_one_mask_per_frame(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for number, frame in enumerate(moving_frames(3)):
        Image.fromarray(frame).save(frames / f"t{number + 1}.png")
    masks = tmp_path / "masks"
    masks.mkdir()
    for number in range(3):
        mask = np.zeros((48, 64), np.uint8)
        mask[:, : 20 + 10 * number] = 1
        Image.fromarray(mask).save(masks / f"m{number}.png")
    out = tmp_path / "styled"
    code, err = run_main(
        capsys, "stylize", frames, *FAST, "--mask", masks, "--region", "outside", "-o", out
    )
    assert code == 0, err
    with open_video(out) as reader:
        assert len(reader) == 3 and reader.fps == 25
        for number, frame in enumerate(moving_frames(3)):
            keep = slice(0, 20 + 10 * number - 4)  # outside the feathered edge: the content
            np.testing.assert_array_equal(reader[number][:, keep], frame[:, keep])
