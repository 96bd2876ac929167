"""The client side of a batch: submit, record, resume.

:func:`run_plan` submits a plan (:mod:`.plan`) to a dask client, records
each finished item in the manifest as results arrive
(``distributed.as_completed``) and renames pictures into place. Only task
descriptions and small results cross the network: workers read inputs and
write outputs themselves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from .manifest import FAILED, OK, Manifest, Record, record_params
from .plan import Plan, StackJob, remove_temporaries
from .progress import BatchProgress
from .style import style_features
from .tasks import PictureTask, SliceTask, TaskResult, describe, run_picture, run_slice

# tasks in flight at once: enough to keep a big cluster (and its autoscaler) busy,
# few enough that a million slices never sit in the scheduler at once
WINDOW = 1000


@dataclass
class Summary:
    """How a batch went."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    units_done: int = 0
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when everything succeeded, 1 when some item failed, 130 when interrupted."""
        if self.interrupted:
            return 130
        return 1 if self.failed else 0

    def as_dict(self) -> dict:
        """JSON-able form for ``--json``."""
        return {
            "done": len(self.done),
            "failed": [{"input": i, "error": e} for i, e in self.failed],
            "skipped": self.skipped,
            "images": self.units_done,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
        }


def run_plan(
    client,
    plan: Plan,
    request,
    manifest: Manifest,
    *,
    progress: BatchProgress | None = None,
) -> Summary:
    """Run a plan on a dask client and record every item in the manifest.

    A KeyboardInterrupt cancels what is not finished and returns a summary
    with ``interrupted`` set; every finished item is already recorded, so the
    same command resumes.
    """
    params = record_params(request)
    summary = Summary(skipped=len(plan.skipped))
    start = time.perf_counter()
    progress = progress or BatchProgress(plan.units, enabled=False)
    for item, out, error in plan.unreadable:
        _record_failure(manifest, summary, item, out, params, error)
    pending: set = set()
    try:
        if plan.units:
            _run_tasks(client, plan, request, manifest, summary, params, progress, pending)
        for job in plan.stacks:
            if not job.todo and job.partial.complete:  # resumed: every slice was written before
                _finish_stack(job, manifest, summary, params)
        # what workers that died mid-write left behind (after an interrupt: at the next run)
        remove_temporaries([task.output for task in plan.pictures])
    except KeyboardInterrupt:
        summary.interrupted = True
        if pending:
            client.cancel(list(pending))
    finally:
        for job in plan.stacks:
            job.partial.close()
        progress.close()
        summary.seconds = time.perf_counter() - start
    return summary


def _run_tasks(client, plan, request, manifest, summary, params, progress, pending) -> None:
    """Submit every task (at most WINDOW at a time) and settle each result as it comes."""
    from distributed import as_completed

    owners: dict[str, PictureTask | tuple[StackJob, int]] = {}
    # the request (with the style pictures) goes to the cluster once, as a task rather than
    # scattered data, so the scheduler can make it again if every worker holding it dies;
    # the style's features are computed once, by a first task, and shared by all the others
    request_future = client.submit(_same, request, pure=False)
    features = client.submit(style_features, request_future, pure=False)
    tasks = _tasks(plan, owners)
    results = as_completed()

    def submit(count: int) -> None:
        for key, func, task in _take(tasks, count):
            future = client.submit(func, task, request_future, features, key=key, pure=False)
            pending.add(future)
            results.add(future)

    submit(WINDOW)
    with _ctrl_c_between_items() as settling:
        for future in results:
            pending.discard(future)
            owner = owners.pop(future.key)
            result = _result_of(future)
            with settling():
                if isinstance(owner, PictureTask):
                    _settle_picture(owner, result, manifest, summary, params)
                else:
                    _settle_slice(*owner, result, manifest, summary, params)
            summary.units_done += 1
            progress.update(ok=result.status == OK)
            submit(1)


def _same(value):
    return value


@contextlib.contextmanager
def _ctrl_c_between_items():
    """Hold back Ctrl-C while an item is being recorded (its line, then its rename).

    An interrupt in between would leave a recorded item without its output
    (redone on the rerun, but needlessly). Only the main thread gets signals;
    elsewhere this does nothing.
    """
    state = {"settling": False, "pressed": False}

    @contextlib.contextmanager
    def settling():
        state["settling"] = True
        try:
            yield
        finally:
            state["settling"] = False
        if state["pressed"]:
            raise KeyboardInterrupt

    def on_ctrl_c(signum, frame):
        if state["settling"]:
            state["pressed"] = True
        else:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield settling
        return
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield settling
    finally:
        signal.signal(signal.SIGINT, previous)


def _take(iterator: Iterator, count: int) -> list:
    taken = []
    for item in iterator:
        taken.append(item)
        if len(taken) >= count:
            break
    return taken


def _tasks(plan: Plan, owners: dict) -> Iterator[tuple[str, object, object]]:
    """Task keys, functions and descriptions: pictures first, then stacks slice by slice.

    Keys are unique per run (a rerun must not be answered from an old result).
    """
    run = os.urandom(4).hex()
    for number, task in enumerate(plan.pictures):
        key = f"stylize-picture-{run}-{number}"
        owners[key] = task
        yield key, run_picture, task
    for stack_number, job in enumerate(plan.stacks):
        for number in job.todo:
            key = f"stylize-slice-{run}-{stack_number}-{number}"
            owners[key] = (job, number)
            index = job.info.slice_index(number)
            yield key, run_slice, SliceTask(job.input, job.partial.array_path, number, index)


def _result_of(future) -> TaskResult:
    try:
        return future.result()
    except Exception as error:  # the task never returned: e.g. its workers kept dying
        from distributed import KilledWorker

        message = describe(error)
        if isinstance(error, KilledWorker):
            message = (
                "the workers running it died each time (out of memory, or killed); "
                "try a smaller --max-size or fewer --workers"
            )
        return TaskResult(FAILED, 0.0, "", error=message)


def _settle_picture(task: PictureTask, result: TaskResult, manifest, summary, params) -> None:
    item = task.input
    if result.status != OK:
        _record_failure(manifest, summary, item, task.output, params, result.error, result=result)
        return
    manifest.append(
        Record(
            str(item.path),
            str(task.output),
            item.kind,
            OK,
            params,
            device=result.device,
            worker=result.worker,
            seconds=round(result.seconds, 3),
        )
    )
    os.replace(result.written, task.output)  # after the line: a stop in between redoes it
    summary.done.append(str(item.path))


def _settle_slice(
    job: StackJob, number: int, result: TaskResult, manifest, summary, params
) -> None:
    job.seconds += result.seconds
    job.workers.add(result.worker)
    if result.status == OK:
        job.devices.add(result.device)
        job.partial.record(number)
    else:
        job.failed[number] = result.error or "failed"
    if not job.settled:
        return
    if job.failed:
        first = min(job.failed)
        error = (
            f"{len(job.failed)} of {job.info.n_slices} slices failed; slice "
            f"{job.info.slice_index(first)}: {job.failed[first]}"
        )
        _record_failure(
            manifest, summary, job.input, job.output, params, error, slices=len(job.partial.done)
        )
    else:
        _finish_stack(job, manifest, summary, params)


def _finish_stack(job: StackJob, manifest, summary, params) -> None:
    manifest.append(
        Record(
            str(job.input.path),
            str(job.output),
            job.input.kind,
            OK,
            params,
            device=", ".join(sorted(d for d in job.devices if d)),
            worker=", ".join(sorted(w for w in job.workers if w)),
            seconds=round(job.seconds, 3),
            slices=len(job.partial.done),
        )
    )
    job.partial.finish()
    summary.done.append(str(job.input.path))


def _record_failure(
    manifest, summary, item, output, params, error, *, result=None, slices=None
) -> None:
    manifest.append(
        Record(
            str(item.path),
            str(output),
            item.kind,
            FAILED,
            params,
            device=result.device if result else "",
            worker=result.worker if result else "",
            seconds=round(result.seconds, 3) if result else 0.0,
            error=error,
            slices=slices,
        )
    )
    summary.failed.append((str(item.path), error or "failed"))
