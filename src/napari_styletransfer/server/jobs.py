"""The job queue: one worker thread per device runs jobs in the order they came.

Torch releases the GIL while it computes, so a worker thread leaves the HTTP
event loop responsive. A job is cancelled between two engine steps by closing
the engine's generator, which frees its memory.

What is written to the :class:`~.store.ResultStore`, and when: a job's record
when it is accepted (before the client hears "202"), when it has run for a
second, and when it ends; a result the moment after the job is announced done
(the waiting clients get it from memory meanwhile, so the disk write is not
part of anyone's latency). On start, jobs that were queued or running when
the last server stopped, or whose result had not reached the disk, are
reported as lost, never dropped silently. After a job is accepted only its
worker writes its files, so the writes cannot overtake each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..api import StylizeRequest, iter_run
from ..core.progress import Progress
from ..devices import describe_device
from ..errors import StyleTransferError
from ..image_io import tiff_bytes
from .errors import ApiError
from .store import ResultStore

log = logging.getLogger("napari_styletransfer.server")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINAL = frozenset({DONE, FAILED, CANCELLED})
LOST = "lost: server restarted before the job finished"
# a running job's record is rewritten once it has run this long (short jobs skip it)
RUNNING_RECORD_AFTER = 1.0
# finished jobs' run times kept for the Retry-After estimate
_RECENT_RUNS = 20


@dataclass
class Inputs:
    """A job's request and content, and the run prepared for the first device."""

    request: StylizeRequest
    content: np.ndarray
    runner: Iterator[Progress]


@dataclass(eq=False)
class Job:
    """One job's state; :meth:`status` is what clients see and what is stored."""

    id: str
    inputs: Inputs | None
    method: str = "quality"
    params: dict = field(default_factory=dict)
    styles: list = field(default_factory=list)
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    device: str | None = None
    step: int = 0
    total: int = 0
    fraction: float = 0.0
    elapsed: float = 0.0
    eta: float | None = None
    stage: str = ""
    losses: dict = field(default_factory=dict)
    error: str | None = None
    result: dict | None = None  # shape and dtype once done
    cancel_requested: bool = False
    preview: np.ndarray | None = field(default=None, repr=False)
    preview_version: int = 0
    version: int = 0
    # the encoded result until it is on disk (served from here meanwhile)
    result_data: bytes | None = field(default=None, repr=False)

    def status(self) -> dict:
        """The job's public status (JSON-able)."""
        return {
            "id": self.id,
            "state": self.state,
            "method": self.method,
            "styles": self.styles,
            "params": self.params,
            "device": self.device,
            "step": self.step,
            "total": self.total,
            "fraction": round(self.fraction, 4),
            "elapsed_seconds": round(self.elapsed, 3),
            "eta_seconds": None if self.eta is None else round(self.eta, 3),
            "stage": self.stage,
            "losses": self.losses,
            "error": self.error,
            "result": self.result,
            "preview_version": self.preview_version,
            "cancel_requested": self.cancel_requested,
            "created_at": self.created,
            "started_at": self.started,
            "finished_at": self.finished,
        }

    @classmethod
    def from_record(cls, record: dict) -> Job:
        """A job read back from the store (without inputs: they are never stored)."""
        return cls(
            id=record["id"],
            inputs=None,
            method=record.get("method", "quality"),
            params=record.get("params", {}),
            styles=record.get("styles", []),
            state=record.get("state", FAILED),
            created=record.get("created_at") or time.time(),
            started=record.get("started_at"),
            finished=record.get("finished_at"),
            device=record.get("device"),
            step=record.get("step", 0),
            total=record.get("total", 0),
            fraction=record.get("fraction", 0.0),
            elapsed=record.get("elapsed_seconds", 0.0),
            stage=record.get("stage", ""),
            losses=record.get("losses", {}),
            error=record.get("error"),
            result=record.get("result"),
        )


class QueueFull(ApiError):
    """429: the queue is full; come back after ``retry_after`` seconds."""

    def __init__(self, size: int, retry_after: int):
        super().__init__(
            429,
            "queue_full",
            f"{size} jobs are already waiting; try again in {retry_after} s.",
            {"Retry-After": str(retry_after)},
        )


class JobManager:
    """Queue, workers and bookkeeping of one server.

    Parameters
    ----------
    store : ResultStore
    devices : list of torch.device
        One worker thread each.
    max_queue : int
        Jobs that may wait (running ones not counted).
    result_ttl : float
        Seconds a finished job is kept.
    on_finished : callable, optional
        ``on_finished(job, seconds)`` after each run (metrics).
    """

    def __init__(
        self,
        store: ResultStore,
        devices: list[torch.device],
        max_queue: int,
        result_ttl: float,
        on_finished: Callable[[Job, float], None] | None = None,
    ):
        self.store, self.devices = store, list(devices)
        self.device_names = [describe_device(d) for d in self.devices]
        self.max_queue, self.result_ttl = int(max_queue), float(result_ttl)
        self._on_finished = on_finished or (lambda job, seconds: None)
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._pending: deque[Job] = deque()
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._recent = deque(maxlen=_RECENT_RUNS)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Recover the stored jobs, then start the workers and the clean-up thread."""
        self.recover()
        for device, name in zip(self.devices, self.device_names, strict=True):
            self._spawn(self._work_loop, device, name=f"worker {name}")
        self._spawn(self._purge_loop, name="result clean-up")

    def _spawn(self, target, *args, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers (a running job stops at its next step and stays "running" on
        disk, so the next start reports it as lost) and wake every waiting client."""
        self._stopping.set()
        with self._work:
            for job in self._jobs.values():
                self._changed(job)
            self._work.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def recover(self) -> None:
        """Load the stored jobs: finished ones are served again, unfinished ones are lost."""
        now = time.time()
        for record in self.store.records():
            job = Job.from_record(record)
            if job.state not in FINAL:
                job.state, job.error, job.finished = FAILED, LOST, now
                log.warning("job %s was %s when the server stopped: lost", job.id, record["state"])
                self.store.save_record(job.status())
            elif job.state == DONE and self.store.result_bytes(job.id) is None:
                job.state, job.error = FAILED, "lost: the result file is missing"
                self.store.save_record(job.status())
            if self._expired(job, now):
                self.store.delete(job.id)
                continue
            self._jobs[job.id] = job

    # ------------------------------------------------------------ requests

    def submit(self, job: Job) -> None:
        """Queue a job.

        Raises
        ------
        QueueFull
            When ``max_queue`` jobs are already waiting.
        """
        with self._work:
            if len(self._pending) >= self.max_queue:
                raise QueueFull(len(self._pending), self._retry_after())
            self._jobs[job.id] = job
            self._pending.append(job)
            self._persist(job)
            self._work.notify()

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every known job, oldest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: job.created)

    def snapshot(self, job: Job) -> tuple[dict, int]:
        """The job's status and version, read together."""
        with self._lock:
            status = job.status()
            if job.state == QUEUED:
                status["queue_position"] = self._position(job)
            return status, job.version

    def _position(self, job: Job) -> int | None:
        for place, waiting in enumerate(self._pending, start=1):
            if waiting is job:
                return place
        return None

    def preview(self, job: Job) -> np.ndarray | None:
        """The latest preview of a running job."""
        with self._lock:
            return job.preview

    def cancel(self, job: Job) -> str:
        """Cancel a queued or running job, or delete a finished one and its result.

        Returns
        -------
        str
            What happened: "cancelled", "cancelling" (it stops at its next
            step) or "deleted".
        """
        with self._work:
            if job.state == QUEUED:
                self._pending.remove(job)
                job.state, job.finished, job.inputs = CANCELLED, time.time(), None
                self._persist(job)
                self._changed(job)
                return CANCELLED
            if job.state == RUNNING:
                job.cancel_requested = True
                self._changed(job)
                return "cancelling"
            del self._jobs[job.id]
            self._changed(job)
        self.store.delete(job.id)
        return "deleted"

    async def wait_for_change(self, job: Job, version: int, timeout: float) -> None:
        """Return when the job's version differs from ``version``, or after ``timeout``."""
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            if job.version != version or self._stopping.is_set():
                return
            self._waiters.setdefault(job.id, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            with self._lock:
                waiting = self._waiters.get(job.id, [])
                if future in waiting:
                    waiting.remove(future)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def queue_length(self) -> int:
        """Jobs waiting for a worker."""
        with self._lock:
            return len(self._pending)

    def counts(self) -> dict[str, int]:
        """Number of known jobs in each state."""
        counts = dict.fromkeys(STATES, 0)
        with self._lock:
            for job in self._jobs.values():
                counts[job.state] += 1
        return counts

    # ------------------------------------------------------------ internals

    def _persist(self, job: Job) -> None:
        """Write the job's status (callers hold the lock, so writes keep their order)."""
        try:
            self.store.save_record(job.status())
        except OSError as error:
            log.error("cannot store job %s: %s", job.id, error)

    def _changed(self, job: Job) -> None:
        """Bump the job's version and wake the clients waiting on it (lock held)."""
        job.version += 1
        for future in self._waiters.pop(job.id, []):
            loop = future.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, future)

    def _retry_after(self) -> int:
        seconds = sum(self._recent) / len(self._recent) if self._recent else 1.0
        waiting = (len(self._pending) + 1) * seconds / max(1, len(self.devices))
        return int(min(3600, max(1, math.ceil(waiting))))

    def _expired(self, job: Job, now: float) -> bool:
        return job.state in FINAL and (job.finished or job.created) + self.result_ttl < now

    def purge(self, now: float | None = None) -> int:
        """Delete finished jobs older than the TTL; return how many."""
        now = time.time() if now is None else now
        with self._lock:
            expired = [job for job in self._jobs.values() if self._expired(job, now)]
            for job in expired:
                del self._jobs[job.id]
        for job in expired:
            self.store.delete(job.id)
        return len(expired)

    def _purge_loop(self) -> None:
        interval = min(60.0, max(0.5, self.result_ttl / 4))
        while not self._stopping.wait(interval):
            try:
                self.purge()
            except OSError as error:
                log.error("result clean-up failed: %s", error)

    def _work_loop(self, device: torch.device) -> None:
        name = describe_device(device)
        while True:
            with self._work:
                while not self._pending and not self._stopping.is_set():
                    self._work.wait()
                if self._stopping.is_set():
                    return
                job = self._pending.popleft()
                job.state, job.started, job.device = RUNNING, time.time(), name
                self._changed(job)
            self._run(job, device)

    def _run(self, job: Job, device: torch.device) -> None:
        inputs, result, error = job.inputs, None, None
        start = time.perf_counter()
        runner = inputs.runner
        recorded_running = False
        try:
            if device != self.devices[0]:  # prepared for the first device: again for this one
                runner.close()
                request = dataclasses.replace(inputs.request, device=str(device))
                runner = iter_run(request, inputs.content)
            for report in runner:
                if job.cancel_requested or self._stopping.is_set():
                    break  # closing the generator (below) stops the engine here
                self._report(job, report)
                if report.done:
                    result = report.result
                elif not recorded_running and time.perf_counter() - start > RUNNING_RECORD_AFTER:
                    self._persist(job)
                    recorded_running = True
        except StyleTransferError as failure:
            error = str(failure)
        except Exception as failure:
            log.exception("job %s failed", job.id)
            error = (
                f"The style transfer failed on the server ({type(failure).__name__}: {failure})."
            )
        finally:
            runner.close()
        if self._stopping.is_set():
            return  # not final on disk: the next start reports it as lost
        data = None
        if error is None and result is not None and not job.cancel_requested:
            data = tiff_bytes(result)
            job.result = {"shape": list(result.shape), "dtype": str(result.dtype)}
        self._finish(job, error, time.perf_counter() - start, data)
        self._write_final(job, data if job.state == DONE else None)  # cancelled at the end: none

    def result_bytes(self, job: Job) -> bytes | None:
        """A finished job's result as TIFF bytes (from memory until it is on disk)."""
        with self._lock:
            data = job.result_data
        return data if data is not None else self.store.result_bytes(job.id)

    def _write_final(self, job: Job, data: bytes | None) -> None:
        """Write a finished job's result and record (the worker's, after clients were woken)."""
        try:
            if data is not None:
                self.store.save_result(job.id, data)
            with self._lock:
                record = job.status()
            self.store.save_record(record)
        except OSError as error:  # served from memory while this server runs; lost after
            log.error("cannot store job %s: %s", job.id, error)
            return
        with self._lock:
            job.result_data = None
            deleted = self._jobs.get(job.id) is not job
        if deleted:  # deleted by a client while it was being written
            self.store.delete(job.id)

    def _report(self, job: Job, report) -> None:
        with self._lock:
            job.step, job.total, job.fraction = report.step, report.total, report.fraction
            job.elapsed, job.eta, job.stage = report.elapsed, report.eta, report.stage
            job.losses = {k: float(v) for k, v in report.losses.items()}
            if report.preview is not None and not report.done:
                job.preview = report.preview
                job.preview_version += 1
            self._changed(job)

    def _finish(self, job: Job, error: str | None, seconds: float, data: bytes | None) -> None:
        with self._lock:
            if job.cancel_requested:
                job.state = CANCELLED
            elif error is not None:
                job.state, job.error = FAILED, error
            else:
                job.state, job.result_data = DONE, data
            job.finished, job.inputs, job.preview = time.time(), None, None
            self._recent.append(seconds)
            self._changed(job)
        log.info("job %s %s in %.3f s", job.id, job.state, seconds)
        self._on_finished(job, seconds)


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
