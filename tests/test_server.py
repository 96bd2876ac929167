"""The HTTP service against a real uvicorn process on a loopback port, with httpx."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import time

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_styletransfer import stylize
from napari_styletransfer.image_io import read_tiff_bytes, tiff_bytes
from serving import child_env, http_client, running_server, serve_command, wait_for_state

KEY = secrets.token_urlsafe(24)
MAX_PIXELS = 20_000
FAST = {"method": "fast", "max_size": 64}
# a quality job that runs until it is cancelled
ENDLESS = {"max_size": 32, "steps": 20000, "preview_every": 0}


def save_a_learned_style(name: str) -> None:
    """A learned style as training starts it: the predictor's (γ, β) for a painting."""
    import torch

    from napari_styletransfer import load_sample
    from napari_styletransfer.core.arrays import to_float_rgb
    from napari_styletransfer.fast import learned
    from napari_styletransfer.fast.networks import get_network
    from napari_styletransfer.fast.run import style_vector

    cpu = torch.device("cpu")
    with torch.no_grad():
        vector = style_vector(to_float_rgb(load_sample("kandinsky"))[0], cpu)
        pairs = get_network("arbitrary", cpu).style_params(vector)
    params = [(g.numpy().copy(), b.numpy().copy()) for g, b in pairs]
    style = learned.LearnedStyle("arbitrary", params, meta={"name": name})
    learned.save_learned(style, learned.style_path(name))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from napari_styletransfer.fast import folders

    folder = tmp_path_factory.mktemp("server") / "results"
    args = ("--max-pixels", MAX_PIXELS, "--max-upload-mb", 0.5, "--max-queue", 1)
    with pytest.MonkeyPatch.context() as patch:  # the server's own learned styles
        patch.setenv(folders.DATA_DIR_ENV, str(folder.parent / "data"))
        save_a_learned_style("kandinsky-start")
        with running_server(folder, *args, key=KEY) as running:
            yield running


@pytest.fixture(scope="module")
def http(server):
    with http_client(server) as client:
        yield client


@pytest.fixture(scope="module")
def content():
    yy, xx = np.mgrid[:48, :64]
    return np.dstack([xx * 4, yy * 5, (xx + yy) * 2]).astype(np.uint8)


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def submit(http, content_bytes, style="preset:7", params=None, **files):
    parts = [("content", ("photo.png", content_bytes, "image/png"))]
    parts += [(name, (f"{name}.png", data, "image/png")) for name, data in files.items()]
    data = {"style": style}
    if params is not None:
        data["params"] = params if isinstance(params, str) else json.dumps(params)
    return http.post("/v1/jobs", files=parts, data=data)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert "Traceback" not in body["detail"]
    return body


def test_fast_job_life_cycle(http, content):
    response = submit(http, png(content), params=FAST)
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    status = wait_for_state(http, job_id, {"done", "failed"})
    assert status["state"] == "done", status
    assert status["device"] == "cpu"
    assert status["step"] == status["total"] >= 1
    assert status["result"] == {"shape": [48, 64, 3], "dtype": "uint8"}
    expected = stylize(content, "preset:7", **FAST)

    as_png = http.get(f"/v1/jobs/{job_id}/result")
    assert as_png.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(as_png.content))), expected)
    as_tiff = http.get(f"/v1/jobs/{job_id}/result", headers={"Accept": "image/tiff"})
    assert as_tiff.headers["content-type"] == "image/tiff"
    np.testing.assert_array_equal(read_tiff_bytes(as_tiff.content), expected)
    by_query = http.get(f"/v1/jobs/{job_id}/result?format=tiff")
    assert by_query.content == as_tiff.content


def test_sixteen_bit_tiff_stays_sixteen_bit(http):
    gray = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 29).astype(np.uint16)
    parts = [("content", ("scan.tif", tiff_bytes(gray), "image/tiff"))]
    job = http.post(
        "/v1/jobs", files=parts, data={"style": "starry-night", "params": '{"method": "fast"}'}
    )
    status = wait_for_state(http, job.json()["id"], {"done", "failed"})
    assert status["state"] == "done", status
    result = read_tiff_bytes(http.get(f"/v1/jobs/{status['id']}/result?format=tiff").content)
    assert result.dtype == np.uint16 and result.shape == gray.shape
    np.testing.assert_array_equal(result, stylize(gray, "starry-night", method="fast"))
    as_png = Image.open(io.BytesIO(http.get(f"/v1/jobs/{status['id']}/result").content))
    assert as_png.mode == "I;16"  # grayscale PNG keeps 16 bits as well


def test_progress_as_server_sent_events_with_previews(http, content):
    params = {"max_size": 40, "steps": 8, "preview_every": 2}
    job_id = submit(http, png(content), style="starry-night", params=params).json()["id"]
    events, previews = [], []
    with http.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                status = json.loads(line[5:])
                events.append((name, status))
                if status["state"] == "running" and status["preview_version"] and not previews:
                    previews.append(http.get(f"/v1/jobs/{job_id}/preview"))
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) <= {"progress"}
    steps = [status["step"] for name, status in events if name == "progress"]
    assert steps == sorted(steps) and max(steps) >= 6
    assert all(status["total"] == 8 for _, status in events if status["step"])
    assert any(status["eta_seconds"] is not None for _, status in events)
    assert previews and previews[0].status_code == 200
    assert Image.open(io.BytesIO(previews[0].content)).size == (64, 48)


def test_cancel_running_and_queued_jobs_and_full_queue(http, content):
    running = submit(http, png(content), style="starry-night", params=ENDLESS).json()["id"]
    wait_for_state(http, running, {"running"})
    queued = submit(http, png(content), style="starry-night", params=ENDLESS).json()["id"]
    assert http.get(f"/v1/jobs/{queued}").json()["queue_position"] == 1

    full = submit(http, png(content), params=FAST)
    assert_error(full, 429, "queue_full")
    assert int(full.headers["retry-after"]) >= 1

    cancelled = http.delete(f"/v1/jobs/{queued}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    stopping = http.delete(f"/v1/jobs/{running}")
    assert stopping.status_code == 202 and stopping.json()["action"] == "cancelling"
    status = wait_for_state(http, running, {"cancelled", "done", "failed"}, timeout=30)
    assert status["state"] == "cancelled" and status["step"] < 20000
    assert_error(http.get(f"/v1/jobs/{running}/result"), 409, "job_cancelled")
    # a finished job is deleted by DELETE
    assert http.delete(f"/v1/jobs/{running}").json()["action"] == "deleted"
    assert_error(http.get(f"/v1/jobs/{running}"), 404, "not_found")


def test_a_job_that_fails_while_running_reports_why(http):
    flat = np.full((48, 64, 3), 90, np.uint8)  # no subject for mask "auto" to find
    params = {"method": "fast", "mask": "auto"}
    job_id = submit(http, png(flat), style="preset:3", params=params).json()["id"]
    status = wait_for_state(http, job_id, {"done", "failed"})
    assert status["state"] == "failed"
    assert "mask is empty" in status["error"]
    assert_error(http.get(f"/v1/jobs/{job_id}/result"), 409, "job_failed")


def _bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (12000, 12000)).save(buffer, format="PNG")  # 144 Mpx in ~140 kB
    return buffer.getvalue()


def _bomb_tiff() -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((8000, 8000), np.uint8), compression="zlib")
    return buffer.getvalue()


def _truncated(content) -> bytes:
    good = png(content)
    return good[: len(good) // 2]


# case: (content bytes from the good content, style, params, extra files, status, error code)
BAD_REQUESTS = {
    "not an image": (
        lambda c: b"just some text, named .png",
        None,
        None,
        {},
        415,
        "unsupported_media_type",
    ),
    "truncated image": (_truncated, None, None, {}, 400, "invalid_image"),
    "too many pixels": (
        lambda c: png(np.zeros((150, 150), np.uint8)),
        None,
        None,
        {},
        413,
        "too_many_pixels",
    ),
    "png bomb": (lambda c: _bomb_png(), None, None, {}, 413, "too_many_pixels"),
    "tiff bomb": (lambda c: _bomb_tiff(), None, None, {}, 413, "too_many_pixels"),
    "upload too large": (
        lambda c: secrets.token_bytes(600_000),
        None,
        None,
        {},
        413,
        "upload_too_large",
    ),
    "unknown style": (png, "van-gogh", None, {}, 422, "unknown_style"),
    "style as a path": (png, "../../../etc/passwd", None, {}, 422, "unknown_style"),
    "style as an absolute path": (png, "/etc/hostname", None, {}, 422, "unknown_style"),
    "bad json": (png, None, "{method: fast", {}, 400, "invalid_json"),
    "json not an object": (png, None, "[1, 2]", {}, 400, "invalid_json"),
    "unknown method": (png, None, {"method": "slow"}, {}, 422, "invalid_parameters"),
    "unknown option": (png, None, {"colour": 1}, {}, 422, "invalid_parameters"),
    "wrong type": (png, None, {"max_size": "big"}, {}, 422, "invalid_parameters"),
    "preset in quality mode": (
        png,
        "preset:3",
        {"method": "quality"},
        {},
        422,
        "invalid_parameters",
    ),
    "device not served": (png, None, {"device": "cuda:3"}, {}, 422, "invalid_parameters"),
    "mask of another size": (
        png,
        None,
        None,
        {"mask": png(np.ones((8, 8), np.uint8))},
        422,
        "invalid_parameters",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_job_requests_get_json_4xx_and_the_server_stays_healthy(server, http, content, case):
    make, style, params, files, status, code = BAD_REQUESTS[case]
    data = make(content)
    started = time.perf_counter()
    response = submit(http, data, style=style or "preset:7", params=params, **files)
    body = assert_error(response, status, code)
    assert time.perf_counter() - started < 5  # bombs are refused from the header
    if case == "unknown method":
        assert body["detail"].startswith("Unknown method 'slow'")  # the engine's own message
    assert server.process.poll() is None
    assert http.get("/healthz").status_code == 200


def test_other_bad_requests(server, http, content):
    with (
        http_client(server, key=None) as anonymous,
        http_client(server, key="not-the-key-" * 3) as wrong,
    ):
        assert_error(anonymous.get("/v1/styles"), 401, "unauthorized")
        assert_error(wrong.post("/v1/jobs", files={"content": png(content)}), 401, "unauthorized")
        assert_error(anonymous.get("/metrics"), 401, "unauthorized")
        assert anonymous.get("/healthz").status_code == 200
    assert_error(http.post("/v1/jobs", data={"style": "kandinsky"}), 422, "invalid_request")
    assert_error(http.post("/v1/jobs", files={"content": png(content)}), 422, "invalid_request")
    assert_error(http.get("/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "not_found")
    assert_error(http.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd/result"), 404, "not_found")
    assert_error(http.get("/v1/nothing-here"), 404, "not_found")
    assert_error(http.put("/v1/jobs"), 405, "method_not_allowed")
    job_id = submit(http, png(content), params=FAST).json()["id"]
    wait_for_state(http, job_id, {"done"})
    assert_error(http.get(f"/v1/jobs/{job_id}/result?format=jpeg"), 400, "bad_request")
    assert_error(
        http.get(f"/v1/jobs/{job_id}/result", headers={"Accept": "image/jpeg"}),
        406,
        "not_acceptable",
    )
    assert http.get("/healthz").json()["status"] == "ok"


def test_segment_styles_metrics_and_docs(http):
    yy, xx = np.mgrid[:64, :64]
    photo = np.where(((yy - 32) ** 2 + (xx - 32) ** 2 < 300)[..., None], 220, 30).astype(np.uint8)
    photo = np.repeat(photo, 3, axis=2)
    response = http.post("/v1/segment", files={"image": ("p.png", png(photo), "image/png")})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    mask = np.asarray(Image.open(io.BytesIO(response.content)))
    assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 255}
    assert 0.0 <= float(response.headers["x-subject-fraction"]) <= 1.0
    assert_error(
        http.post("/v1/segment", files={"image": png(photo)}, data={"threshold": "2"}),
        422,
        "invalid_parameters",
    )

    styles = http.get("/v1/styles").json()
    assert "starry-night" in [p["name"] for p in styles["paintings"]]
    assert len(styles["presets"]) == 26 and styles["presets"][7] == "preset:7"

    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in (
        'styletransfer_jobs{state="done"}',
        "styletransfer_queue_length",
        'styletransfer_job_seconds_count{method="fast"}',
        'styletransfer_device_memory_bytes{device="cpu",kind="resident"}',
        'styletransfer_request_errors_total{error="unknown_style"}',
    ):
        assert name in text, name
    assert http.get("/docs").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/segment", "/healthz"} <= set(paths)


def test_non_loopback_address_without_key_is_refused(tmp_path):
    done = subprocess.run(
        serve_command("--host", "0.0.0.0", "--port", 0, "--results-dir", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    assert done.returncode == 2
    assert "without an API key" in done.stderr and "Traceback" not in done.stderr
    short = tmp_path / "short.key"
    short.write_text("abc")
    done = subprocess.run(
        serve_command("--host", "0.0.0.0", "--api-key-file", short, "--results-dir", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    assert done.returncode == 2 and "too short" in done.stderr


def test_learned_styles_by_name_only(http, content):
    assert http.get("/v1/styles").json()["learned"] == ["kandinsky-start"]
    answer = submit(http, png(content), style="learned:kandinsky-start", params=FAST)
    assert answer.status_code == 202, answer.text
    job = wait_for_state(http, answer.json()["id"], ("done", "failed"))
    assert job["state"] == "done", job
    for style in ("learned:nope", "learned:../../etc/passwd", "learned:a/b"):
        refused = submit(http, png(content), style=style, params=FAST)
        assert refused.status_code == 422 and refused.json()["error"] == "unknown_style"
