"""A Python client for the HTTP service (``napari-styletransfer serve``).

>>> from napari_styletransfer.client import Client
>>> with Client("http://gpu-box:8000", api_key="...") as server:  # doctest: +SKIP
...     art = server.stylize(photo, "starry-night", method="fast")

:meth:`Client.stylize` and :meth:`Client.iter_stylize` take the same arguments
as :func:`napari_styletransfer.stylize` and give the same results (they build
the same :class:`~napari_styletransfer.api.StylizeRequest`; :meth:`Client.iter_run`
takes one). Arrays travel as uncompressed TIFF, so dtype and values arrive
exactly. Bundled paintings and presets go by name; other styles (arrays, local
files) are uploaded. Needs httpx (the ``serve`` extra).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator

import httpx
import numpy as np

from .core.progress import Progress
from .errors import StyleTransferError
from .image_io import read_tiff_bytes, tiff_bytes

DEFAULT_URL = "http://127.0.0.1:8000"
# the server sends a keep-alive comment every 15 s; three missed ones mean trouble
EVENT_READ_TIMEOUT = 45.0


class RemoteError(StyleTransferError):
    """An error from (or about) the server.

    Attributes
    ----------
    status : int or None
        The HTTP status, or None when the server could not be reached.
    code : str or None
        The server's error code (e.g. "unknown_style", "queue_full").
    """

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class Client:
    """Talk to a style-transfer server.

    Parameters
    ----------
    url : str
        The server's address, e.g. "http://127.0.0.1:8000".
    api_key : str, optional
        Sent as ``Authorization: Bearer KEY``.
    timeout : float
        Seconds to wait for an answer to one request.
    queue_timeout : float
        How long :meth:`submit` keeps retrying while the server's queue is full
        (it waits as long as the server's Retry-After asks).

    Attributes
    ----------
    queue_full_answers : int
        How many 429 answers this client has had (and waited out).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        queue_timeout: float = 600.0,
    ):
        self.url = url.rstrip("/")
        self.timeout, self.queue_timeout = float(timeout), float(queue_timeout)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.queue_full_answers = 0

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the local API, remotely

    def stylize(
        self,
        content,
        style,
        *,
        mask=None,
        region: str = "inside",
        method: str = "quality",
        max_size: int = 512,
        steps: int | None = None,
        style_strength: float = 1.0,
        preserve_color: bool = False,
        device: str = "auto",
        seed: int = 0,
        **advanced,
    ) -> np.ndarray:
        """Run :func:`napari_styletransfer.stylize` on the server and return the result.

        Same arguments, result and errors as the local function (errors are
        :class:`RemoteError`, a :class:`StyleTransferError`). ``device`` is the
        server's: leave it "auto" or name one of the server's devices.

        Returns
        -------
        numpy.ndarray
            Same shape, dtype and value range as ``content``.
        """
        runner = self.iter_stylize(
            content,
            style,
            mask=mask,
            region=region,
            method=method,
            max_size=max_size,
            steps=steps,
            style_strength=style_strength,
            preserve_color=preserve_color,
            device=device,
            seed=seed,
            **advanced,
        )
        for report in runner:
            if report.done:
                return report.result
        raise RemoteError("The server's job ended without a result.")  # pragma: no cover

    def iter_stylize(self, content, style, **kwargs) -> RemoteRun:
        """Like :func:`napari_styletransfer.iter_stylize`, on the server.

        The arguments are checked here first (a :class:`StylizeRequest`, as
        locally), then again by the server against the content.
        """
        from .api import StylizeRequest

        return self.iter_run(StylizeRequest.create(style, **kwargs), content)

    def iter_run(self, request, content) -> RemoteRun:
        """Like :func:`napari_styletransfer.api.iter_run`: run a request on the server.

        The job is submitted at once (so a refused request raises here); the
        returned generator yields a :class:`Progress` for every report the
        server sends (with the preview when the server has a new one), and its
        last report carries the result. Closing it cancels the job on the server.

        Raises
        ------
        RemoteError
            When the server refuses the job, the job fails or is cancelled on
            the server, or the server stops answering.
        """
        return RemoteRun(self, self.submit_request(request, content))

    def _follow(self, job_id: str) -> Generator[Progress, None, np.ndarray]:
        ended = False
        try:
            seen_preview = 0
            for event, status in self.events(job_id):
                if event == "done":
                    ended = True
                    result = self.result(job_id)
                    yield _progress(status, result, result)
                    return result
                if event in ("failed", "cancelled"):
                    ended = True
                    message = status.get("error") or "The job was cancelled on the server."
                    raise RemoteError(message, code=f"job_{event}")
                preview = None
                if status.get("preview_version", 0) > seen_preview:
                    seen_preview = status["preview_version"]
                    preview = self.preview(job_id)
                yield _progress(status, preview)
            raise RemoteError(f"The server stopped reporting on job {job_id}.")  # pragma: no cover
        finally:
            if not ended:
                self._cancel_quietly(job_id)

    def segment(
        self, image, *, threshold: float = 0.5, fill_holes: bool = False, largest: bool = False
    ) -> np.ndarray:
        """Find the subject of a photo on the server (:func:`segment_subject`).

        Returns
        -------
        numpy.ndarray
            bool, H×W: True on the subject.
        """
        files = [("image", ("image.tiff", tiff_bytes(np.asarray(image)), "image/tiff"))]
        data = {"threshold": str(threshold), "fill_holes": str(fill_holes), "largest": str(largest)}
        response = self._request(
            "POST", "/v1/segment", files=files, data=data, headers={"Accept": "image/tiff"}
        )
        return read_tiff_bytes(response.content) > 0

    # ------------------------------------------------------------ jobs

    def submit(self, content, style, **options) -> str:
        """Queue a job (same arguments as ``stylize``) and return its id."""
        from .api import StylizeRequest

        return self.submit_request(StylizeRequest.create(style, **options), content)

    def submit_request(self, request, content) -> str:
        """Queue a :class:`StylizeRequest` on ``content`` and return the job's id.

        While the server's queue is full, waits as its Retry-After says and
        tries again, for up to ``queue_timeout`` seconds.
        """
        files, params = request_form(request, content)
        data = {"params": json.dumps(params, default=_plain)}
        deadline = time.monotonic() + self.queue_timeout
        while True:
            response = self._request("POST", "/v1/jobs", files=files, data=data, allow=(429,))
            if response.status_code != 429:
                return response.json()["id"]
            self.queue_full_answers += 1
            wait = _retry_after(response)
            if time.monotonic() + wait > deadline:
                raise _error(response, self.url)
            time.sleep(wait)

    def status(self, job_id: str) -> dict:
        """A job's state, progress, device and error (see docs/server.md)."""
        return self._request("GET", f"/v1/jobs/{job_id}").json()

    def result(self, job_id: str) -> np.ndarray:
        """A finished job's result, exactly as the engine returned it."""
        response = self._request(
            "GET", f"/v1/jobs/{job_id}/result", headers={"Accept": "image/tiff"}
        )
        return read_tiff_bytes(response.content)

    def preview(self, job_id: str) -> np.ndarray | None:
        """The latest preview of a running job (None when there is none yet)."""
        response = self._request(
            "GET", f"/v1/jobs/{job_id}/preview", headers={"Accept": "image/tiff"}, allow=(409,)
        )
        return None if response.status_code == 409 else read_tiff_bytes(response.content)

    def cancel(self, job_id: str) -> dict:
        """Cancel a queued or running job (or delete a finished one); returns its status."""
        return self._request("DELETE", f"/v1/jobs/{job_id}").json()

    def wait(self, job_id: str) -> dict:
        """Follow a job's events until it ends; return its final status."""
        for event, status in self.events(job_id):
            if event in ("done", "failed", "cancelled"):
                return status
        raise RemoteError(f"The server stopped reporting on job {job_id}.")  # pragma: no cover

    def events(self, job_id: str) -> Iterator[tuple[str, dict]]:
        """The job's server-sent events as (event, status) pairs, up to its final state.

        Raises
        ------
        RemoteError
            When the stream breaks off before the job ended (the server stopped,
            crashed or lost the connection).
        """
        timeout = httpx.Timeout(self.timeout, read=EVENT_READ_TIMEOUT)
        last = "unknown"
        try:
            with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=timeout) as stream:
                if stream.status_code >= 400:
                    stream.read()
                    raise _error(stream, self.url)
                for event, data in _parse_events(stream.iter_lines()):
                    if event == "error":
                        raise RemoteError(
                            data.get("detail", "server error"), code=data.get("error")
                        )
                    last = data.get("state", last)
                    yield event, data
                    if event in ("done", "failed", "cancelled"):
                        return
        except httpx.TimeoutException:
            raise RemoteError(
                f"No word from the server at {self.url} for {EVENT_READ_TIMEOUT:.0f} s while job "
                f"{job_id} was {last}."
            ) from None
        except httpx.TransportError as error:
            raise _lost(self.url, job_id, last, error) from None
        raise _lost(self.url, job_id, last, "the stream ended early")

    # ------------------------------------------------------------ service

    def health(self) -> dict:
        """The server's /healthz answer (status, version, devices, queue length)."""
        return self._request("GET", "/healthz").json()

    def styles(self) -> dict:
        """Bundled paintings, presets and learned styles the server offers."""
        return self._request("GET", "/v1/styles").json()

    def _request(self, method: str, path: str, allow: tuple = (), **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise RemoteError(
                f"The server at {self.url} did not answer within {self.timeout:g} s."
            ) from None
        except httpx.TransportError as error:
            raise RemoteError(f"Cannot reach the server at {self.url}: {error}") from None
        if response.status_code >= 400 and response.status_code not in allow:
            raise _error(response, self.url)
        return response

    def _cancel_quietly(self, job_id: str) -> None:
        try:
            self._http.delete(f"/v1/jobs/{job_id}", timeout=5.0)
        except httpx.HTTPError:
            pass  # the server is gone: nothing left to cancel


class RemoteRun:
    """The progress reports of a job on a server; closing it cancels the job.

    An iterator like the facade's ``iter_run`` generator (``next``, ``close``),
    which also cancels a job whose reports were never asked for.

    Attributes
    ----------
    job_id : str
        The server's id of the job.
    """

    def __init__(self, client: Client, job_id: str):
        self.job_id = job_id
        self._client = client
        self._reports = client._follow(job_id)
        self._started = False

    def __iter__(self) -> RemoteRun:
        return self

    def __next__(self) -> Progress:
        self._started = True
        return next(self._reports)

    def close(self) -> None:
        """Stop following the job and cancel it on the server if it has not ended."""
        if self._started:
            self._reports.close()  # cancels unless it ended
        else:
            self._client._cancel_quietly(self.job_id)
            self._reports.close()


def request_form(request, content) -> tuple[list, dict]:
    """A request as multipart parts (styles in order: they blend by position) and params.

    Bundled paintings and presets go by name; every other style goes as the
    image the request resolved (float RGB in [0, 1], exact in TIFF). Arrays
    (content, mask, init) are uploaded; everything else is ``request.params()``.
    The device is the server's to choose unless the request names one.
    """
    from .samples import SAMPLES

    files = [("content", _upload("content", content))]
    for style in request.styles:
        if style.is_preset or style.name.strip().lower() in SAMPLES:
            files.append(("style", (None, style.name.encode("utf-8"))))
        else:
            files.append(("style", _upload("style", style.source)))
    params = request.params()
    del params["style"]
    for name in ("mask", "init"):
        value = getattr(request, name)
        if isinstance(value, np.ndarray):
            files.append((name, _upload(name, value)))
            del params[name]
    if params.get("device") == "auto":
        del params["device"]
    return files, params


def _upload(name: str, image) -> tuple:
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return (f"{name}.tiff", tiff_bytes(array), "image/tiff")


def _plain(value):
    if isinstance(value, np.generic):  # numpy scalars in parameters
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} values to a server")


def _parse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """Server-sent events (the subset the server writes: event, data, id, comments)."""
    event, data = None, []
    for line in lines:
        if not line:
            if data:
                yield event or "message", json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _progress(status: dict, preview, result=None) -> Progress:
    stage = status.get("stage") or status.get("state", "")
    if status.get("state") == "queued":
        place = status.get("queue_position")
        stage = "queued on the server" + (f" (position {place})" if place else "")
    return Progress(
        step=int(status.get("step", 0)),
        total=int(status.get("total", 0)),
        fraction=float(status.get("fraction", 0.0)),
        elapsed=float(status.get("elapsed_seconds", 0.0)),
        device=status.get("device") or "",
        stage=stage,
        losses=dict(status.get("losses") or {}),
        preview=preview,
        result=result,
    )


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _error(response: httpx.Response, url: str) -> RemoteError:
    try:
        body = response.json()
        code, detail = body.get("error"), body.get("detail") or response.reason_phrase
    except ValueError:
        code, detail = None, response.text[:200] or response.reason_phrase
    if response.status_code >= 500:
        detail = f"The server at {url} failed: {detail}"
    return RemoteError(detail, status=response.status_code, code=code)


def _lost(url: str, job_id: str, state: str, cause) -> RemoteError:
    return RemoteError(
        f"Lost the connection to the server at {url} while job {job_id} was {state} "
        f"({cause}): the server may have stopped or crashed. If it comes back, its "
        "results are kept on disk; unfinished jobs are reported as lost."
    )
