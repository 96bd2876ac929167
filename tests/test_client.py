"""The Python client against a real server process: the same results as the local API."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from napari_styletransfer import StyleTransferError, segment_subject, stylize
from napari_styletransfer.client import Client, RemoteError
from serving import running_server

FAST = {"method": "fast", "max_size": 64}
ENDLESS = {"max_size": 32, "steps": 20000, "preview_every": 0}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("client") / "results", "--max-queue", 1) as running:
        yield running


@pytest.fixture
def client(server):
    with Client(server.url, timeout=30, queue_timeout=60) as remote:
        yield remote


def _images():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:40, :52]
    return {
        "uint8 RGB": np.dstack([xx * 4, yy * 5, (xx + yy) * 2]).astype(np.uint8),
        "uint16 gray": (xx * 1000 + yy * 300).astype(np.uint16),
        "uint8 RGBA": np.dstack([xx * 4, yy * 5, xx + yy, rng.integers(0, 256, xx.shape)]).astype(
            np.uint8
        ),
        "float32 RGB": rng.random((40, 52, 3), dtype=np.float32),
    }


@pytest.mark.parametrize("kind", list(_images()))
def test_stylize_gives_the_local_result_bit_for_bit(client, kind):
    image = _images()[kind]
    before = image.copy()
    remote = client.stylize(image, "starry-night", **FAST)
    local = stylize(image, "starry-night", **FAST)
    assert remote.dtype == local.dtype and remote.shape == local.shape == image.shape
    np.testing.assert_array_equal(remote, local)
    np.testing.assert_array_equal(image, before)


def test_mask_several_styles_and_a_local_style_file(client, tmp_path):
    image = _images()["uint8 RGB"]
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 12:40] = True
    painting = np.random.default_rng(5).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    path = tmp_path / "painting.png"
    Image.fromarray(painting).save(path)
    options = dict(mask=mask, region="outside", style_weights=[0.7, 0.3], **FAST)
    remote = client.stylize(image, ["great-wave", path], **options)
    local = stylize(image, ["great-wave", str(path)], **options)
    np.testing.assert_array_equal(remote, local)
    # "outside": the masked region, away from its feathered edge, is exactly the content
    np.testing.assert_array_equal(remote[16:24, 18:34], image[16:24, 18:34])
    assert not np.array_equal(remote[:5], image[:5])


def test_iter_stylize_reports_progress_and_previews_like_the_local_one(client):
    image = _images()["uint8 RGB"]
    options = {"max_size": 40, "steps": 6, "preview_every": 2}
    reports = list(client.iter_stylize(image, "kandinsky", **options))
    assert reports[-1].done and not any(r.done for r in reports[:-1])
    steps = [r.step for r in reports]
    assert steps == sorted(steps) and reports[-1].step == reports[-1].total == 6
    previews = [r.preview for r in reports[:-1] if r.preview is not None]
    assert previews and all(p.shape == image.shape and p.dtype == image.dtype for p in previews)
    assert reports[-1].device == "cpu"
    np.testing.assert_array_equal(reports[-1].result, stylize(image, "kandinsky", **options))


def test_closing_the_generator_cancels_the_job_on_the_server(client):
    runner = client.iter_stylize(_images()["uint8 RGB"], "starry-night", **ENDLESS)
    for report in runner:
        if report.step >= 2:
            break
    jobs = client._http.get("/v1/jobs").json()["jobs"]
    job_id = next(job["id"] for job in jobs if job["state"] == "running")
    runner.close()
    deadline = time.monotonic() + 30
    while client.status(job_id)["state"] != "cancelled":
        assert time.monotonic() < deadline, "the job was not cancelled"
        time.sleep(0.05)


def test_a_run_closed_before_its_first_report_is_cancelled_too(client):
    run = client.iter_stylize(_images()["uint8 RGB"], "starry-night", **ENDLESS)
    run.close()
    deadline = time.monotonic() + 30
    while client.status(run.job_id)["state"] != "cancelled":
        assert time.monotonic() < deadline, "the job was not cancelled"
        time.sleep(0.05)


def test_errors_are_the_local_api_s_errors(client):
    image = _images()["uint8 RGB"]
    for bad in ({"method": "slow"}, {"style": "no-such-painting"}, {"style": "preset:2"}):
        options = {"style": "starry-night", **bad}
        style = options.pop("style")
        with pytest.raises(StyleTransferError) as local:
            stylize(image, style, **options)
        with pytest.raises(StyleTransferError) as remote:  # checked before anything is sent
            client.stylize(image, style, **options)
        assert str(remote.value) == str(local.value)
    # what needs the content is checked by the server, with the engine's words
    with pytest.raises(RemoteError, match="does not match the content") as refused:
        client.stylize(image, "starry-night", mask=np.ones((8, 8), bool), **FAST)
    assert refused.value.status == 422 and refused.value.code == "invalid_parameters"


def test_segment_gives_the_local_mask(client):
    yy, xx = np.mgrid[:64, :80]
    photo = np.where(((yy - 30) ** 2 + (xx - 40) ** 2 < 400)[..., None], 230, 40)
    photo = np.repeat(photo, 3, axis=2).astype(np.uint8)
    remote = client.segment(photo)
    assert remote.dtype == bool and remote.shape == (64, 80)
    np.testing.assert_array_equal(remote, segment_subject(photo))


def test_a_full_queue_is_waited_out(server, client):
    image = _images()["uint8 RGB"]
    with Client(server.url) as other:
        running = other.submit(image, "starry-night", **ENDLESS)
        queued = other.submit(image, "starry-night", **ENDLESS)

        def unblock():
            deadline = time.monotonic() + 30
            while client.queue_full_answers == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            other.cancel(queued)
            other.cancel(running)

        helper = threading.Thread(target=unblock)
        helper.start()
        result = client.stylize(image, "preset:1", **FAST)
        helper.join(30)
    assert client.queue_full_answers >= 1
    assert result.shape == image.shape


def test_styles_health_and_an_unreachable_server(client, server):
    assert "kandinsky" in [p["name"] for p in client.styles()["paintings"]]
    assert client.health()["devices"] == ["cpu"]
    with Client("http://127.0.0.1:9", timeout=5) as nobody, pytest.raises(RemoteError) as error:
        nobody.stylize(_images()["uint8 RGB"], "preset:1", method="fast")
    assert "Cannot reach the server at http://127.0.0.1:9" in str(error.value)
