"""``napari-styletransfer learn-style`` and learned styles in ``stylize`` and ``presets``."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer.cli import main
from napari_styletransfer.fast import folders, learned

TINY = ["--size", "32", "--work-size", "32", "--batch-size", "1"]


@pytest.fixture(autouse=True)
def user_folders(tmp_path, monkeypatch):
    monkeypatch.setenv(folders.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(folders.CACHE_DIR_ENV, str(tmp_path / "cache"))


@pytest.fixture
def files(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    yy, xx = np.mgrid[:40, :40]
    Image.fromarray(np.dstack([xx * 6, yy * 6, (xx ^ yy) * 6]).astype(np.uint8)).save(
        photos / "p.png"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no photos here")
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    content = tmp_path / "content.png"
    Image.fromarray(np.dstack([xx * 3, yy * 5, 200 - xx]).astype(np.uint8)).save(content)
    return {"photos": photos, "empty": empty, "broken": broken, "content": content, "dir": tmp_path}


def learn(files, name, *extra):
    return main(
        [
            "learn-style",
            "kandinsky",
            "--name",
            name,
            "--photos",
            str(files["photos"]),
            *TINY,
            *extra,
        ]
    )


def test_learn_then_stylize_and_list(files, capsys):
    assert learn(files, "mine", "--steps", "2", "--json") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["style"] == "learned:mine" and summary["steps"] == 2
    out = files["dir"] / "out.png"
    code = main(
        [
            "stylize",
            str(files["content"]),
            "--method",
            "fast",
            "--style",
            "learned:mine",
            "-o",
            str(out),
            "--max-size",
            "32",
        ]
    )
    assert code == 0 and np.asarray(Image.open(out)).shape == (40, 40, 3)
    assert main(["presets", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [row["style"] for row in listing["learned"]] == ["learned:mine"]
    assert len(listing["presets"]) == 26
    sheet = files["dir"] / "sheet.png"
    assert main(["presets", str(files["content"]), "-o", str(sheet), "--max-size", "32"]) == 0
    assert sheet.is_file()
    # a shared file imported under another name
    assert main(["learn-style", "--import", summary["file"], "--name", "theirs"]) == 0
    assert (learned.styles_dir() / "theirs.npz").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["learn-style", "kandinsky", "--name", "a/b"], "not allowed"),
        (["learn-style", "{broken}", "--name", "x", "--photos", "{photos}"], "Cannot read"),
        (["learn-style", "kandinsky", "--name", "x", "--photos", "{empty}"], "No readable images"),
        (
            ["learn-style", "kandinsky", "--name", "x", "--resume", "--photos", "{photos}"],
            "no checkpoint",
        ),
        (["learn-style", "--import", "{broken}"], "not a readable learned style"),
        (["learn-style", "kandinsky"], "needs a PAINTING and --name"),
        (
            [
                "stylize",
                "{content}",
                "--method",
                "fast",
                "--style",
                "learned:ghost",
                "-o",
                "{dir}/o.png",
            ],
            "no learned style",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(files, capsys, args, message):
    code = main([a.format(**files) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("napari-styletransfer: error:") and message in err[0]


def test_existing_name_needs_overwrite(files, capsys):
    assert learn(files, "twice", "--steps", "1") == 0
    capsys.readouterr()
    assert learn(files, "twice", "--steps", "1") == 2
    assert "already exists" in capsys.readouterr().err
    assert learn(files, "twice", "--steps", "1", "--overwrite") == 0


def test_ctrl_c_keeps_a_checkpoint_and_resume_finishes(files, capsys, monkeypatch):
    import napari_styletransfer.fast.training as training

    original = training.iter_learn_style

    def interrupted(*args, **kwargs):
        for number, report in enumerate(original(*args, **kwargs)):
            yield report
            if number == 1:
                signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C once

    monkeypatch.setattr(training, "iter_learn_style", interrupted)
    assert learn(files, "paused", "--steps", "6") == 130
    err = capsys.readouterr().err
    assert "checkpoint saved" in err and "--resume" in err
    assert not (learned.styles_dir() / "paused.npz").exists()
    monkeypatch.setattr(training, "iter_learn_style", original)
    assert learn(files, "paused", "--resume", "--json") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 6
    meta = learned.load_learned(summary["file"]).meta
    assert meta["steps"] == 6
