"""The HTTP service: a FastAPI app over the style-transfer engine (see docs/server.md)."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..devices import resolve_device
from ..errors import StyleTransferError
from ..image_io import png_bytes, read_tiff_bytes, tiff_bytes
from .config import ServerConfig
from .errors import ApiError, install_error_handlers
from .jobs import DONE, FINAL, QUEUED, RUNNING, Job, JobManager
from .metrics import Metrics
from .security import BodySizeLimit, KeyCheck
from .store import JOB_ID, ResultStore, new_job_id
from .submission import FORM_SCHEMA, MAX_STYLES, build_inputs, read_form
from .uploads import decode_image

MEDIA_TYPES = {"png": "image/png", "tiff": "image/tiff"}
#: Longest ``?wait=`` of the result endpoint, in seconds.
MAX_RESULT_WAIT = 60.0
# an SSE comment this often keeps proxies and clients from timing out an idle stream
KEEPALIVE_SECONDS = 15.0
# how often a queued job's status (its place in the queue) is sent
QUEUED_HEARTBEAT = 1.0
FORM_LIMITS = {"max_files": MAX_STYLES + 3, "max_fields": MAX_STYLES + 8, "max_part_size": 2**20}

DESCRIPTION = """Neural style transfer as a service: submit a job (multipart), follow its
progress (JSON or server-sent events), fetch the result (PNG, or TIFF keeping 16-bit and
float). Every error is JSON `{"error": code, "detail": message}`."""


def create_app(config: ServerConfig) -> FastAPI:
    """Build the service for one server process.

    Parameters
    ----------
    config : ServerConfig
        Checked first (:meth:`ServerConfig.check`).

    Returns
    -------
    fastapi.FastAPI
        Its lifespan starts the workers; run it with one uvicorn process
        (jobs live in that process).

    Raises
    ------
    StyleTransferError
        For unsafe settings, an unavailable device, or a results folder in use.
    """
    config.check()
    devices = [resolve_device(name) for name in config.devices]
    metrics = Metrics()
    store = ResultStore(config.results_dir)
    manager = JobManager(store, devices, config.max_queue, config.result_ttl, metrics.job_finished)
    metrics.watch(manager)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        manager.start()
        try:
            yield
        finally:
            manager.stop()
            store.close()

    app = FastAPI(
        title="napari-styletransfer",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.manager, app.state.config = manager, config
    app.add_middleware(BodySizeLimit, max_bytes=config.max_upload_bytes)
    install_error_handlers(app, metrics.request_error)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(KeyCheck(config.api_key))])
    _add_job_routes(v1, manager, config)
    _add_other_routes(v1, manager, config)
    app.include_router(v1)
    _add_service_routes(app, manager, metrics, config)
    return app


def _add_job_routes(v1: APIRouter, manager: JobManager, config: ServerConfig) -> None:
    def find(job_id: str) -> Job:
        job = manager.get(job_id) if JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise ApiError(
                404,
                "not_found",
                f"No job {job_id[:40]!r}: unknown, or finished more than "
                f"{config.result_ttl:g} s ago (the server's --result-ttl).",
            )
        return job

    def prepare_job(raw) -> Job:
        inputs, summary = build_inputs(raw, config.max_pixels, [str(d) for d in manager.devices])
        return Job(id=new_job_id(), inputs=inputs, **summary)

    @v1.post(
        "/jobs",
        status_code=202,
        summary="Submit a style-transfer job",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": FORM_SCHEMA}},
            }
        },
    )
    async def create_job(request: Request):
        async with request.form(**FORM_LIMITS) as form:
            raw = await read_form(form)
        job = await run_in_threadpool(prepare_job, raw)
        manager.submit(job)
        location = f"/v1/jobs/{job.id}"
        return JSONResponse(
            {"id": job.id, "state": job.state, "links": _links(job.id)},
            status_code=202,
            headers={"Location": location},
        )

    @v1.get("/jobs", summary="List the jobs the server knows")
    async def list_jobs():
        return {"jobs": [{"id": job.id, "state": job.state} for job in manager.jobs()]}

    @v1.get("/jobs/{job_id}", summary="A job's state, progress and device")
    async def job_status(job_id: str):
        status, _ = manager.snapshot(find(job_id))
        return {**status, "links": _links(job_id)}

    @v1.get(
        "/jobs/{job_id}/events",
        summary="Progress as server-sent events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def job_events(job_id: str):
        job = find(job_id)
        return StreamingResponse(
            _events(manager, job),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @v1.get(
        "/jobs/{job_id}/result",
        summary="The result: PNG, or TIFF (exact dtype); ?format= or the Accept header",
        responses={200: {"content": {"image/png": {}, "image/tiff": {}}}},
    )
    async def job_result(
        job_id: str, request: Request, format: str | None = None, wait: float = 0.0
    ):
        job = find(job_id)
        kind = choose_format(format, request.headers.get("accept"))
        # ?wait=S: hold the answer until the job ends (at most S ≤ 60 s), so a client that
        # wants only the result needs two requests and no event stream
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_RESULT_WAIT)
        while job.state not in FINAL and time.monotonic() < deadline:
            _, version = manager.snapshot(job)
            await manager.wait_for_change(job, version, deadline - time.monotonic())
        if job.state != DONE:
            raise _not_ready(job)
        data = manager.result_bytes(job)
        if data is None:
            raise ApiError(410, "gone", "The result has expired or was deleted.")
        return await _image_response(data, kind, f"{job.id}.{kind}")

    @v1.get(
        "/jobs/{job_id}/preview",
        summary="The latest preview of a running job (the result once done)",
        responses={200: {"content": {"image/png": {}, "image/tiff": {}}}},
    )
    async def job_preview(job_id: str, request: Request, format: str | None = None):
        job = find(job_id)
        kind = choose_format(format, request.headers.get("accept"))
        if job.state == DONE:
            return await job_result(job_id, request, kind)
        preview = manager.preview(job)
        if job.state != RUNNING or preview is None:
            raise ApiError(
                409, "no_preview", f"No preview yet: the job is {job.state} ({job.stage or '…'})."
            )
        return await _image_response(preview, kind, f"{job.id}-preview.{kind}")

    @v1.delete("/jobs/{job_id}", summary="Cancel a job, or delete a finished one")
    async def cancel_job(job_id: str):
        job = find(job_id)
        action = manager.cancel(job)
        status, _ = manager.snapshot(job)
        code = 202 if action == "cancelling" else 200
        return JSONResponse({**status, "action": action}, status_code=code)


def _add_other_routes(v1: APIRouter, manager: JobManager, config: ServerConfig) -> None:
    @v1.post(
        "/segment",
        summary="Find the photo's subject (synchronous): a mask, 255 = subject",
        responses={200: {"content": {"image/png": {}, "image/tiff": {}}}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": SEGMENT_SCHEMA}},
            }
        },
    )
    async def segment(request: Request, format: str | None = None):
        kind = choose_format(format, request.headers.get("accept"))
        async with request.form(**FORM_LIMITS) as form:
            image = form.get("image")
            if image is None or isinstance(image, str):
                raise ApiError(422, "invalid_request", "'image' is missing: upload an image file.")
            data = await image.read()
            options = {k: form.get(k) for k in ("threshold", "fill_holes", "largest")}
        mask, headers = await run_in_threadpool(
            _segment, data, options, config.max_pixels, manager.devices[0]
        )
        response = await _image_response(mask, kind, f"mask.{kind}")
        response.headers.update(headers)
        return response

    @v1.get("/styles", summary="Bundled paintings, presets and learned styles")
    async def styles():
        from ..fast.learned import learned_names
        from ..fast.presets import PRESET_NAMES
        from ..samples import SAMPLES

        paintings = [s for s in SAMPLES.values() if s.kind == "style"]
        photos = [s for s in SAMPLES.values() if s.kind != "style"]
        return {
            "paintings": [{"name": s.name, "title": s.title} for s in paintings],
            "photos": [{"name": s.name, "title": s.title} for s in photos],
            "presets": PRESET_NAMES,
            "preset_blend_example": "preset:3:0.5,12:0.5",
            "learned": learned_names(),
        }


def _add_service_routes(app: FastAPI, manager: JobManager, metrics: Metrics, config) -> None:
    @app.get("/healthz", summary="Liveness: 200 while the service runs")
    async def healthz():
        counts = manager.counts()
        return {
            "status": "ok",
            "version": __version__,
            "devices": manager.device_names,
            "queue_length": manager.queue_length(),
            "running": counts[RUNNING],
            "auth": config.api_key is not None,
        }

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        dependencies=[Depends(KeyCheck(config.api_key))],
        response_class=Response,
    )
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def root():
        return {"service": "napari-styletransfer", "version": __version__, "docs": "/docs"}


SEGMENT_SCHEMA = {
    "type": "object",
    "required": ["image"],
    "properties": {
        "image": {"type": "string", "format": "binary"},
        "threshold": {"type": "number", "default": 0.5},
        "fill_holes": {"type": "boolean", "default": False},
        "largest": {"type": "boolean", "default": False},
    },
}


def _segment(data: bytes, options: dict, max_pixels: int, device) -> tuple:
    """The one mask pipeline (as the CLI and the widgets): prediction, then mask_from_probability."""
    from ..segmentation import check_threshold, mask_from_probability, predict_subject

    image = decode_image(data, "image", max_pixels)
    try:
        threshold = check_threshold(options["threshold"] or 0.5)
        prediction = predict_subject(image, device=device)
        mask = mask_from_probability(
            prediction.probability,
            threshold=threshold,
            holes=_flag(options["fill_holes"]),
            largest=_flag(options["largest"]),
        )
    except StyleTransferError as error:
        raise ApiError(422, "invalid_parameters", str(error)) from None
    headers = {
        "X-Subject-Fraction": f"{mask.mean():.4f}",
        "X-Mirror-Agreement": f"{prediction.mirror_agreement:.4f}",
        "X-Ambiguous": "true" if prediction.ambiguous else "false",
    }
    return (mask.astype("uint8") * 255), headers


def _flag(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


async def _events(manager: JobManager, job: Job):
    """Server-sent events: "progress" on every change, then the final state's name.

    While the job waits its status is sent every second (its queue position
    moves), so that a client can show it and notice its own cancel in time.
    """
    seen = None
    while True:
        status, version = manager.snapshot(job)
        heartbeat = status["state"] == QUEUED and not manager.stopping
        if version != seen or heartbeat:
            seen = version
            final = status["state"] in FINAL
            yield _sse(status["state"] if final else "progress", status, version)
            if final:
                return
        elif manager.stopping:
            detail = "The server is shutting down; the job is lost."
            yield _sse("error", {"error": "server_stopping", "detail": detail}, version)
            return
        else:
            yield ": keep-alive\n\n"
        waiting = status["state"] == QUEUED
        await manager.wait_for_change(job, seen, QUEUED_HEARTBEAT if waiting else KEEPALIVE_SECONDS)


def _sse(event: str, data: dict, version: int) -> str:
    return f"id: {version}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


def _links(job_id: str) -> dict:
    base = f"/v1/jobs/{job_id}"
    return {
        "status": base,
        "events": f"{base}/events",
        "result": f"{base}/result",
        "preview": f"{base}/preview",
    }


def _not_ready(job: Job) -> ApiError:
    if job.state == "failed":
        return ApiError(409, "job_failed", f"The job failed: {job.error}")
    if job.state == "cancelled":
        return ApiError(409, "job_cancelled", "The job was cancelled; it has no result.")
    progress = f" (step {job.step}/{job.total})" if job.total else ""
    return ApiError(409, "not_ready", f"The job is {job.state}{progress}; no result yet.")


def choose_format(query: str | None, accept: str | None) -> str:
    """ "png" or "tiff": from ``?format=``, else from the Accept header (PNG by default).

    Raises
    ------
    ApiError
        400 for an unknown ``format``, 406 when Accept allows neither.
    """
    if query is not None:
        kind = {"tif": "tiff"}.get(query.strip().lower(), query.strip().lower())
        if kind not in MEDIA_TYPES:
            raise ApiError(400, "bad_request", f"format must be png or tiff, not {query[:20]!r}.")
        return kind
    if not accept:
        return "png"
    best, best_q = None, 0.0
    for item in accept.split(","):
        media, *options = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for option in options:
            if option.startswith("q="):
                try:
                    quality = float(option[2:])
                except ValueError:
                    quality = 0.0
        kind = {"image/png": "png", "image/tiff": "tiff", "image/*": "png", "*/*": "png"}.get(media)
        if kind is not None and quality > best_q:
            best, best_q = kind, quality
    if best is None:
        raise ApiError(406, "not_acceptable", "The result comes as image/png or image/tiff.")
    return best


async def _image_response(image, kind: str, filename: str) -> Response:
    """An array (or stored TIFF bytes) as a PNG or TIFF response."""

    def encode() -> bytes:
        if isinstance(image, bytes):
            return png_bytes(read_tiff_bytes(image))
        return tiff_bytes(image) if kind == "tiff" else png_bytes(image)

    # stored TIFF bytes asked for as TIFF go out as they are, without a trip to a thread
    passthrough = isinstance(image, bytes) and kind == "tiff"
    return Response(
        image if passthrough else await run_in_threadpool(encode),
        media_type=MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
