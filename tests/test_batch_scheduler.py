"""The CLI's ``--scheduler-file`` path against a ``dask scheduler`` + ``dask worker`` started here.

Both run on loopback and are stopped when the module ends; the CLI runs as a
user would run it, in a subprocess (which also lets us press Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer.image_io import read_image

STARTUP_SECONDS = 90


def dask_process(*args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT
    )


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def scheduler_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    path = folder / "scheduler.json"
    log = open(folder / "dask.log", "w")
    common = ("--no-dashboard",)
    scheduler = dask_process(
        "scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--scheduler-file",
        str(path),
        *common,
        log=log,
    )
    worker = None
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = dask_process(
            "worker",
            "--scheduler-file",
            str(path),
            "--nthreads",
            "1",
            "--nworkers",
            "1",
            "--host",
            "127.0.0.1",
            *common,
            log=log,
        )
        from distributed import Client

        with Client(scheduler_file=str(path), timeout="30s") as client:
            client.wait_for_workers(1, timeout=STARTUP_SECONDS)
            address = client.scheduler.address
        assert address.startswith("tcp://127.0.0.1:")
        yield path
    finally:
        for process in (worker, scheduler):
            if process is not None:
                stop(process)
        log.close()


def cli(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "napari_styletransfer.cli", "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def pictures(folder, count):
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:120, :160]
    for n in range(count):
        image = np.dstack([(xx * 3 + n * 11) % 256, (yy * 2 + n * 7) % 256, (xx + yy) % 256])
        Image.fromarray(image.astype(np.uint8)).save(folder / f"p{n:02d}.png")
    return sorted(folder.glob("*.png"))


def test_batch_on_an_existing_cluster_and_ctrl_c_then_resume(scheduler_file, tmp_path, capsys):
    inputs = pictures(tmp_path / "in", 40)
    out = tmp_path / "out"
    args = (
        tmp_path / "in",
        "-o",
        out,
        "--style",
        "preset:3",
        "--method",
        "fast",
        "--max-size",
        32,
        "--scheduler-file",
        scheduler_file,
    )

    first = cli(*args)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + STARTUP_SECONDS
    while (not manifest.exists() or not manifest.read_text()) and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    done_before = len(lines)

    assert first.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    assert 1 <= done_before < 40
    assert all((out / os.path.basename(line["input"])).exists() for line in lines)

    from napari_styletransfer.cli import main  # the rerun in this process: one start less

    capsys.readouterr()
    assert main(["batch", *map(str, args), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["skipped"] == done_before
    assert summary["done"] + summary["skipped"] == 40 and summary["failed"] == []
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(line["input"] for line in lines) == [str(p) for p in inputs]
    assert all(line["status"] == "ok" for line in lines)
    assert all(line["worker"].startswith("tcp://127.0.0.1:") for line in lines)
    for path in inputs:
        result = read_image(out / path.name)
        assert result.shape == (120, 160, 3) and result.dtype == np.uint8


def test_bad_arguments_exit_2_before_anything_is_written(scheduler_file, tmp_path, capsys):
    from napari_styletransfer.cli import main

    pictures(tmp_path / "in", 1)
    base = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--method", "fast"]
    for extra in (
        ["--style", "preset:1", "--max-size", "2"],
        ["--style", "no-such-painting"],
        ["--style", "preset:1", "--workers", "2", "--scheduler-file", str(scheduler_file)],
        ["--style", "preset:1", "--scheduler", "tcp://127.0.0.1:1", "--scheduler-file", "x"],
    ):
        assert main(["batch", *base, *extra]) == 2, extra
        stderr = capsys.readouterr().err
        assert stderr.startswith("napari-styletransfer: error:") and len(stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()
