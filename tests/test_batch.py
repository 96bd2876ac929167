"""Batch planning without a cluster: finding inputs, naming outputs, the manifest, sizing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from napari_styletransfer.api import StylizeRequest
from napari_styletransfer.batch.cluster import ClusterPlan, plan_local_cluster
from napari_styletransfer.batch.manifest import FAILED, OK, Manifest, Record, record_params
from napari_styletransfer.batch.naming import output_path, temporary_path
from napari_styletransfer.batch.plan import plan_batch
from napari_styletransfer.batch.sources import discover, stack_info
from napari_styletransfer.errors import StyleTransferError


def picture(path, seed=0, size=(40, 48)):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "photos"
    picture(root / "a.png")
    picture(root / "b.jpg", 1)
    picture(root / "sub" / "c.png", 2)
    picture(root / ".hidden.png", 3)
    (root / "notes.txt").write_text("not a picture")
    tifffile.imwrite(root / "movie.ome.tif", np.zeros((3, 32, 32), np.uint16), ome=True)
    zarr.create_array(str(root / "volume.zarr"), shape=(2, 32, 32), dtype="uint8")
    return root


def names(items, root):
    return sorted(str(item.path.relative_to(root)) for item in items)


def test_a_folder_gives_its_pictures_and_stacks_and_recursive_adds_sub_folders(tree):
    items, root = discover([str(tree)])
    assert root == tree
    assert names(items, tree) == ["a.png", "b.jpg", "movie.ome.tif", "volume.zarr"]
    items, _ = discover([str(tree)], recursive=True)
    assert "sub/c.png" in names(items, tree)
    assert {item.kind for item in items} == {"picture", "tiff", "zarr"}


def test_globs_and_files_share_one_root_and_duplicates_go(tree):
    items, root = discover([str(tree / "*.png"), str(tree / "sub" / "c.png"), str(tree / "a.png")])
    assert root == tree
    assert names(items, tree) == ["a.png", "sub/c.png"]
    items, _ = discover([str(tree / "**" / "*.png")])
    assert names(items, tree) == ["a.png", "sub/c.png"]


def test_nothing_found_is_an_error(tmp_path):
    with pytest.raises(StyleTransferError, match="No such file"):
        discover([str(tmp_path / "missing*.png")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleTransferError, match="No inputs found"):
        discover([str(tmp_path / "empty")])


def test_the_output_folder_is_never_read_when_walking(tree):
    out = tree / "styled"
    picture(out / "a.png")
    items, _ = discover([str(tree)], recursive=True, exclude=out)
    assert not any("styled" in str(item.path) for item in items)


def test_outputs_mirror_inputs_and_stacks_become_zarr(tree, tmp_path):
    items, root = discover([str(tree)], recursive=True)
    by_name = {item.path.name: item for item in items}
    out = tmp_path / "out"
    assert output_path(by_name["c.png"], root, out, False) == out / "sub" / "c.png"
    assert output_path(by_name["b.jpg"], root, out, False, "png") == out / "b.png"
    assert output_path(by_name["movie.ome.tif"], root, out, True) == out / "movie.ome.zarr"
    assert output_path(by_name["volume.zarr"], root, out, True) == out / "volume.zarr"


def test_stack_layouts_come_from_metadata(tree):
    items, _ = discover([str(tree)])
    by_name = {item.path.name: item for item in items}
    assert stack_info(by_name["a.png"]) is None
    movie = stack_info(by_name["movie.ome.tif"])
    assert (movie.stack_shape, movie.picture_shape, movie.n_slices) == ((3,), (32, 32), 3)
    assert movie.slice_index(2) == (2,)


def test_a_corrupt_stack_is_reported_not_raised_further(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    items, _ = discover([str(tmp_path / "bad.tif")])
    with pytest.raises(StyleTransferError, match=r"bad\.tif"):
        stack_info(items[0])


@pytest.fixture
def request_params():
    return record_params(StylizeRequest.create("preset:7", method="fast", max_size=32))


def test_writing_onto_an_input_is_refused_whatever_the_output_folder(tree, request_params):
    items, root = discover([str(tree)])
    with pytest.raises(StyleTransferError, match="never overwritten"):
        plan_batch(items, root, tree, request_params, Manifest(tree))
    assert not (tree / "manifest.jsonl").exists()  # refused before anything was written
    with pytest.raises(StyleTransferError, match="inside the input"):
        plan_batch(items, root, tree / "volume.zarr" / "x", request_params, Manifest(tree))


def test_two_inputs_onto_one_output_are_refused(tmp_path, request_params):
    picture(tmp_path / "in" / "x.png")
    picture(tmp_path / "in" / "x.jpg")
    items, root = discover([str(tmp_path / "in")])
    out = tmp_path / "out"
    with pytest.raises(StyleTransferError, match="two inputs"):
        plan_batch(items, root, out, request_params, Manifest(out), fmt="png")


def test_existing_outputs_are_kept_unless_overwrite(tree, tmp_path, request_params):
    items, root = discover([str(tree / "a.png")])
    out = tmp_path / "out"
    picture(out / "a.png", seed=9)
    before = (out / "a.png").read_bytes()
    with pytest.raises(StyleTransferError, match="--overwrite"):
        plan_batch(items, root, out, request_params, Manifest(out))
    assert (out / "a.png").read_bytes() == before
    with Manifest(out) as manifest:
        plan = plan_batch(items, root, out, request_params, manifest, overwrite=True)
    assert [task.output for task in plan.pictures] == [out / "a.png"]


def test_resume_skips_only_what_finished_with_the_same_parameters(tree, tmp_path, request_params):
    items, root = discover([str(tree / "a.png"), str(tree / "b.jpg")])
    out = tmp_path / "out"
    with Manifest(out).open() as manifest:
        picture(out / "a.png")
        manifest.append(
            Record(str(tree / "a.png"), str(out / "a.png"), "picture", OK, request_params)
        )
        manifest.append(
            Record(str(tree / "b.jpg"), str(out / "b.jpg"), "picture", FAILED, request_params)
        )
    with Manifest(out) as manifest:
        plan = plan_batch(items, root, out, request_params, manifest)
    assert [item.path.name for item in plan.skipped] == ["a.png"]
    assert [task.input.path.name for task in plan.pictures] == ["b.jpg"]
    other = dict(request_params, max_size=64)
    with pytest.raises(StyleTransferError, match="--overwrite"), Manifest(out) as manifest:
        plan_batch(items, root, out, other, manifest)


def test_stale_temporaries_of_a_stopped_run_are_removed(tree, tmp_path, request_params):
    out = tmp_path / "out"
    stale = temporary_path(out / "a.png")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a picture")
    unrelated = out / ".a.png.user-notes"
    unrelated.write_text("mine")
    items, root = discover([str(tree / "a.png")])
    with Manifest(out) as manifest:
        plan_batch(items, root, out, request_params, manifest)
    assert not stale.exists() and unrelated.exists()


def test_the_manifest_survives_a_line_cut_short_and_is_locked(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.jsonl").write_text('{"input": "/x", "status": "ok"}\n{"input": "/y", "sta')
    with Manifest(out).open() as manifest:
        assert set(manifest.latest) == {"/x"}
        with pytest.raises(StyleTransferError, match="Another batch"):
            Manifest(out).open()
        manifest.append(Record("/z", "/out/z", "picture", OK, {}))
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()[2:]]
    assert [line["input"] for line in lines] == ["/z"]


def test_bad_stylize_arguments_are_refused_by_the_request_before_anything_runs():
    with pytest.raises(StyleTransferError, match="max_size"):
        StylizeRequest.create("preset:7", method="fast", max_size=2)
    with pytest.raises(StyleTransferError, match="neither a file"):
        StylizeRequest.create("no-such-painting")
    with pytest.raises(StyleTransferError, match="fast-mode"):
        StylizeRequest.create("preset:7", method="quality")


def test_parameters_name_style_files_by_content(tmp_path):
    style = picture(tmp_path / "style.png")
    first = record_params(StylizeRequest.create(str(style), method="fast", max_size=32))
    picture(style, seed=5)
    second = record_params(StylizeRequest.create(str(style), method="fast", max_size=32))
    assert first["style"] == second["style"] == [str(style)]
    assert first["files"] != second["files"]


@pytest.mark.parametrize(
    ("gpus", "cores", "workers", "expected"),
    [
        (0, 2, None, ClusterPlan(1, 2)),
        (0, 16, 4, ClusterPlan(4, 4)),
        (0, 2, 3, ClusterPlan(3, 1)),
        (4, 32, None, ClusterPlan(4, 8, gpus=4)),
        (2, 8, 1, ClusterPlan(1, 8, gpus=1)),
    ],
)
def test_the_local_cluster_is_sized_to_the_machine(gpus, cores, workers, expected):
    assert plan_local_cluster(gpus, cores, workers) == expected


def test_zero_workers_is_refused():
    with pytest.raises(StyleTransferError, match="--workers"):
        plan_local_cluster(0, 2, 0)
