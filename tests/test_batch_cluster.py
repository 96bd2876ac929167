"""Batches on a real dask LocalCluster: 2 worker processes on loopback, fast mode, tiny images."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import cloudpickle
import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from napari_styletransfer.api import StylizeRequest
from napari_styletransfer.batch import run_batch, runner
from napari_styletransfer.batch.cluster import connect, worker_settings
from napari_styletransfer.batch.manifest import record_params
from napari_styletransfer.image_io import read_image

# the helpers below run inside the worker processes
cloudpickle.register_pickle_by_value(sys.modules[__name__])

MAX_SIZE = 32


@pytest.fixture(scope="module")
def client():
    with connect(workers=2, torch_threads=1) as client:
        yield client


@pytest.fixture(scope="module")
def fast_request():
    return StylizeRequest.create("preset:7", method="fast", max_size=MAX_SIZE)


def pictures(folder, count, size=(40, 48), start=0, suffix="png"):
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[: size[0], : size[1]]
    paths = []
    for n in range(start, start + count):
        image = np.dstack([(xx * 5 + n * 17) % 256, (yy * 3 + n * 29) % 256, (xx + yy) % 256])
        path = folder / f"photo{n:02d}.{suffix}"
        Image.fromarray(image.astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def manifest_lines(out):
    path = out / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def assert_stylised_like(output_path, input_image):
    result = read_image(output_path)
    assert result.shape == input_image.shape and result.dtype == input_image.dtype
    assert np.abs(result.astype(int) - input_image.astype(int)).mean() > 5


def no_temporaries(out):
    return [p for p in out.rglob(".*") if ".partial" in p.name or ".old-" in p.name]


# --- counters installed in the worker processes ---------------------------------------


def install_counters():
    """Count style-vector computations, network loads and array reads/writes in this process."""
    from napari_styletransfer.fast import cache, networks
    from napari_styletransfer.fast import run as fast_run

    counts = {"style_vectors": 0, "loads": {}, "reads": [], "writes": []}
    originals = getattr(fast_run, "_test_originals", None)
    if originals is None:
        originals = {
            "predict": fast_run._predict_style,
            "loaders": dict(networks.LOADERS),
            "getitem": zarr.Array.__getitem__,
            "setitem": zarr.Array.__setitem__,
        }
        fast_run._test_originals = originals

    def predict(*args, **kwargs):
        counts["style_vectors"] += 1
        return originals["predict"](*args, **kwargs)

    def loader(name):
        def load():
            counts["loads"][name] = counts["loads"].get(name, 0) + 1
            return originals["loaders"][name]()

        return load

    def getitem(array, selection):
        counts["reads"].append((array.shape, repr(selection)))
        return originals["getitem"](array, selection)

    def setitem(array, selection, value):
        counts["writes"].append((array.shape, repr(selection)))
        return originals["setitem"](array, selection, value)

    fast_run._predict_style = predict
    networks.LOADERS.update({name: loader(name) for name in originals["loaders"]})
    zarr.Array.__getitem__, zarr.Array.__setitem__ = getitem, setitem
    fast_run._test_counts = counts
    # start from nothing loaded, as a fresh worker would
    networks.clear_cache()
    cache.style_vectors.clear()
    cache.last_preset_output.clear()
    return os.getpid()


def read_counters():
    from napari_styletransfer.fast import run as fast_run

    return fast_run._test_counts


# --- tests ------------------------------------------------------------------------------


def test_workers_run_one_task_each_with_their_share_of_torch_threads(client):
    settings = client.run(worker_settings)
    assert len(settings) == 2
    assert all(
        s["torch_threads"] == 1 and s["omp_wait_policy"] == "PASSIVE" for s in settings.values()
    )
    assert sum(client.nthreads().values()) == 2  # one dask thread per worker
    assert all(os.getpid() != s["pid"] for s in settings.values())  # real processes


def test_a_mixed_folder_with_bad_items_stacks_and_a_full_manifest(client, fast_request, tmp_path):
    folder = tmp_path / "in"
    good = pictures(folder, 4) + pictures(folder, 1, start=4, suffix="jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "tiny.png")
    tifffile.imwrite(folder / "twochannel.tif", np.zeros((40, 48, 2), np.float32))
    rng = np.random.default_rng(0)
    movie = (rng.random((3, 40, 48)) * 50000 + 1000).astype(np.uint16)
    tifffile.imwrite(folder / "movie.ome.tif", movie, ome=True, metadata={"axes": "TYX"})
    ome = zarr.open_group(str(folder / "cells.ome.zarr"), mode="w", zarr_format=2)
    colour = rng.integers(0, 256, (2, 40, 48, 3), dtype=np.uint8)
    ome.create_array("0", data=colour, chunks=(1, 40, 48, 3))
    ome.create_array("1", data=colour[:, ::2, ::2], chunks=(1, 20, 24, 3))
    datasets = [{"path": "0"}, {"path": "1"}]
    ome.attrs["multiscales"] = [{"version": "0.4", "axes": [], "datasets": datasets}]
    out = tmp_path / "out"

    summary = run_batch([str(folder)], out, fast_request, client=client, progress=False)

    failed = {os.path.basename(path): error for path, error in summary.failed}
    assert set(failed) == {"broken.jpg", "tiny.png", "twochannel.tif"}
    assert "Cannot read" in failed["broken.jpg"] and "16" in failed["tiny.png"]
    assert "shape" in failed["twochannel.tif"]
    assert summary.exit_code == 1 and len(summary.done) == 7
    for path in good:
        assert_stylised_like(out / path.name, read_image(path))
    styled_movie = zarr.open_array(str(out / "movie.ome.zarr"), mode="r")[:]
    assert styled_movie.shape == movie.shape and styled_movie.dtype == movie.dtype
    assert all(np.abs(styled_movie[t].astype(float) - movie[t]).mean() > 500 for t in range(3))
    styled_cells = zarr.open_group(str(out / "cells.ome.zarr"), mode="r")
    assert styled_cells.attrs["multiscales"][0]["datasets"] == [{"path": "0"}]
    assert styled_cells["0"].shape == colour.shape and "1" not in styled_cells
    assert no_temporaries(out) == []

    lines = manifest_lines(out)
    assert len(lines) == 10 and len({line["input"] for line in lines}) == 10
    params = record_params(fast_request)
    workers = set(client.scheduler_info()["workers"])
    again = dict(lines[0]["params"])
    del again["files"]
    assert StylizeRequest.from_params(again).params() == fast_request.params()  # reproducible
    for line in lines:
        assert line["params"] == params
        assert set(line) >= {"input", "output", "status", "device", "worker", "seconds", "error"}
        if line["status"] == "ok":
            assert line["device"] == "cpu" and line["error"] is None
            assert set(line["worker"].split(", ")) <= workers and line["seconds"] > 0
        else:
            assert line["error"] == failed[os.path.basename(line["input"])]
    by_name = {os.path.basename(line["input"]): line for line in lines}
    assert by_name["movie.ome.tif"]["slices"] == 3
    assert by_name["movie.ome.tif"]["output"] == str(out / "movie.ome.zarr")


def test_style_features_once_per_batch_and_networks_once_per_worker(client, tmp_path):
    style = pictures(tmp_path / "style", 1, size=(64, 64))[0]
    request = StylizeRequest.create(str(style), method="fast", max_size=MAX_SIZE)
    client.run(install_counters)
    summary = run_batch(
        [str(p) for p in pictures(tmp_path / "in", 8)],
        tmp_path / "out",
        request,
        client=client,
        progress=False,
    )
    counts = client.run(read_counters)
    assert summary.exit_code == 0 and len(summary.done) == 8
    assert sum(c["style_vectors"] for c in counts.values()) == 1
    for c in counts.values():
        assert all(n == 1 for n in c["loads"].values()), c["loads"]
    assert sum(c["loads"].get("arbitrary", 0) for c in counts.values()) >= 1


def test_a_lazy_stack_is_read_and_written_slice_by_slice_by_the_workers(
    client, fast_request, tmp_path, monkeypatch
):
    monkeypatch.setattr(runner, "WINDOW", 2)  # tasks are submitted as others finish
    source = zarr.create_array(
        str(tmp_path / "stack.zarr"), shape=(3, 2, 40, 48), chunks=(1, 1, 40, 48), dtype="uint16"
    )
    source[:] = np.random.default_rng(1).integers(100, 60000, source.shape, dtype=np.uint16)
    client.run(install_counters)
    install_counters()  # in this (the client's) process too

    summary = run_batch(
        [str(tmp_path / "stack.zarr")],
        tmp_path / "out",
        fast_request,
        client=client,
        progress=False,
    )

    here = read_counters()
    counts = client.run(read_counters)
    assert summary.exit_code == 0 and summary.units_done == 6
    assert here["reads"] == [] and here["writes"] == []  # the client never touches pixels
    reads = [r for c in counts.values() for r in c["reads"] if r[0] == source.shape]
    writes = [w for c in counts.values() for w in c["writes"]]
    expected = sorted(repr((t, z)) for t in range(3) for z in range(2))
    assert sorted(selection for _, selection in reads) == expected
    assert sorted(selection for _, selection in writes) == expected
    result = zarr.open_array(str(tmp_path / "out" / "stack.zarr"), mode="r")
    assert result.shape == source.shape and result.chunks == (1, 1, 40, 48)
    assert all(result[t, z].any() for t in range(3) for z in range(2))


def test_resume_skips_finished_work_and_redoes_only_what_is_missing(client, fast_request, tmp_path):
    inputs = pictures(tmp_path / "in", 4)
    out = tmp_path / "out"
    first = run_batch([str(tmp_path / "in")], out, fast_request, client=client, progress=False)
    assert len(first.done) == 4
    stamps = {p.name: (out / p.name).stat().st_mtime_ns for p in inputs}
    (out / inputs[2].name).unlink()

    second = run_batch([str(tmp_path / "in")], out, fast_request, client=client, progress=False)

    assert second.skipped == 3 and second.done == [str(inputs[2])] and second.units_done == 1
    for p in inputs:
        if p != inputs[2]:
            assert (out / p.name).stat().st_mtime_ns == stamps[p.name]
    assert_stylised_like(out / inputs[2].name, read_image(inputs[2]))
    third = run_batch([str(tmp_path / "in")], out, fast_request, client=client, progress=False)
    assert third.skipped == 4 and third.units_done == 0


def test_a_worker_killed_mid_batch_loses_no_item(client, fast_request, tmp_path):
    inputs = pictures(tmp_path / "in", 40, size=(240, 320), suffix="jpg")
    out = tmp_path / "out"
    outcome = {}

    def batch():
        outcome["summary"] = run_batch(
            [str(tmp_path / "in")], out, fast_request, client=client, progress=False
        )

    runner = threading.Thread(target=batch)
    runner.start()
    deadline = time.monotonic() + 60
    while not manifest_lines(out) and time.monotonic() < deadline:
        time.sleep(0.005)
    busy = [address for address, keys in client.processing().items() if keys]
    pids = client.run(os.getpid)
    victim = busy[0] if busy else next(iter(pids))
    os.kill(pids[victim], signal.SIGKILL)
    lines_before_kill = len(manifest_lines(out))
    runner.join(timeout=120)

    assert not runner.is_alive()
    summary = outcome["summary"]
    assert summary.exit_code == 0 and len(summary.done) == 40, summary.failed
    lines = manifest_lines(out)
    assert len(lines) == 40 and all(line["status"] == "ok" for line in lines)
    assert lines_before_kill < 40  # the kill came while work was left
    assert all(line["worker"] != victim for line in lines[lines_before_kill + 1 :])
    for path in inputs:
        assert_stylised_like(out / path.name, read_image(path))
    assert no_temporaries(out) == []
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_a_local_cluster_gives_the_process_its_environment_back(fast_request):
    import os

    before = dict(os.environ)
    with connect(workers=1, torch_threads=1):
        pass
    assert dict(os.environ) == before  # dask's nannies set OMP_NUM_THREADS=1 & co. here
