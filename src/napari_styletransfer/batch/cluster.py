"""Where a batch runs: a local dask cluster sized to the machine, or an existing one.

- With GPUs: one worker process per GPU, one task at a time each, pinned to
  its GPU.
- On a CPU: one worker process (``--workers N`` for N) running one task at a
  time, whose torch threads use the cores (cores / N each), so that dask's
  and torch's threads never oversubscribe the machine.

Torch threads, the GPU and OpenMP's waiting policy are set on each worker by
:class:`StyleTransferWorker`, a dask worker plugin (also on workers that join
later or are restarted). Networks are loaded by the engine once per process
and kept, so each worker loads them once for the whole batch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import dask
from distributed import Client, LocalCluster
from distributed.comm import get_address_host
from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import StyleTransferError

LOOPBACK = "127.0.0.1"
PLUGIN_NAME = "napari-styletransfer"
WORKER_SATURATION = 2.0
WORKER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}  # spinning OpenMP threads slow shared cores 3-13x


@dataclass(frozen=True)
class ClusterPlan:
    """How many worker processes, and how many torch threads each.

    Attributes
    ----------
    workers : int
        Worker processes (each runs one task at a time).
    torch_threads : int
        Intra-op threads of torch in each worker.
    gpus : int
        GPUs used (worker k uses GPU k); 0 on a CPU.
    """

    workers: int
    torch_threads: int
    gpus: int = 0


def plan_local_cluster(cuda_devices: int, cores: int, workers: int | None = None) -> ClusterPlan:
    """Size a local cluster: one worker per GPU, else one (or ``workers``) sharing the cores."""
    if workers is not None and workers < 1:
        raise StyleTransferError(f"--workers must be at least 1, not {workers}.")
    if cuda_devices > 0:
        count = workers or cuda_devices
        # a GPU worker still needs a few CPU threads for reading, resizing and writing
        return ClusterPlan(count, max(1, cores // count), gpus=min(count, cuda_devices))
    count = workers or 1
    return ClusterPlan(count, max(1, cores // count))


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class StyleTransferWorker(WorkerPlugin):
    """Set a worker up for style transfer (runs in every worker process, once).

    Parameters
    ----------
    torch_threads : int or None
        torch's intra-op threads; None: the machine's cores divided by the dask
        threads of all workers on it (as the scheduler knows them at set-up).
    gpus : int
        When positive, worker k (local clusters name workers 0, 1, …) uses GPU k mod gpus.
    """

    name = PLUGIN_NAME

    def __init__(self, torch_threads: int | None = None, gpus: int = 0) -> None:
        self.torch_threads = torch_threads
        self.gpus = gpus

    async def setup(self, worker) -> None:
        """Apply the settings in the worker's process."""
        for key, value in WORKER_ENV.items():
            os.environ.setdefault(key, value)  # effective when torch is not imported yet
        import torch

        from .. import api  # noqa: F401 - imported now, not inside the first task

        threads = self.torch_threads or await _fair_share_of_cores(worker)
        torch.set_num_threads(threads)
        if self.gpus and torch.cuda.is_available() and str(worker.name).isdigit():
            torch.cuda.set_device(int(worker.name) % min(self.gpus, torch.cuda.device_count()))


async def _fair_share_of_cores(worker) -> int:
    """This machine's cores divided by the dask threads of all workers on it (best effort)."""
    threads_here = worker.state.nthreads
    with contextlib.suppress(Exception):  # an older scheduler, or one busy starting
        identity = await worker.scheduler.identity()
        host = get_address_host(worker.address)
        threads_here = (
            sum(
                int(info.get("nthreads", 1))
                for address, info in identity.get("workers", {}).items()
                if get_address_host(address) == host
            )
            or threads_here
        )
    return max(1, usable_cores() // max(1, threads_here))


def worker_settings() -> dict:
    """What a worker process runs with (for tests and the benchmark's table)."""
    import torch

    return {
        "pid": os.getpid(),
        "torch_threads": torch.get_num_threads(),
        "cuda_device": torch.cuda.current_device() if torch.cuda.is_available() else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def has_dashboard() -> bool:
    """Whether bokeh, which the dask dashboard's pages need, can be imported here."""
    return importlib.util.find_spec("bokeh") is not None


def check_where(scheduler: str | None, scheduler_file: str | None, workers: int | None) -> None:
    """Refuse contradictory choices of where to run (before anything starts)."""
    if scheduler and scheduler_file:
        raise StyleTransferError("Give either --scheduler or --scheduler-file, not both.")
    if (scheduler or scheduler_file) and workers is not None:
        raise StyleTransferError("--workers sizes a local cluster; an existing one has its own.")
    if workers is not None and workers < 1:
        raise StyleTransferError(f"--workers must be at least 1, not {workers}.")


@contextlib.contextmanager
def connect(
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    workers: int | None = None,
    torch_threads: int | None = None,
) -> Iterator[Client]:
    """A client for the batch: on an existing cluster, or on a local one started here.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    scheduler_file : str, optional
        A scheduler file written by ``dask scheduler --scheduler-file``.
    workers : int, optional
        Worker processes of the local cluster (default: one per GPU, else one).
    torch_threads : int, optional
        torch threads per worker (default: the cores shared out between the workers).

    Yields
    ------
    distributed.Client
        With :class:`StyleTransferWorker` registered. A local cluster is shut
        down (its workers killed) on the way out.
    """
    check_where(scheduler, scheduler_file, workers)
    if scheduler or scheduler_file:
        with _existing(scheduler, scheduler_file) as client:
            _set_up_workers(client, StyleTransferWorker(torch_threads))
            yield client
        return
    import torch

    plan = plan_local_cluster(torch.cuda.device_count(), usable_cores(), workers)
    # dask's nannies live in this process and set OMP_NUM_THREADS=1 & co. in its
    # environment for their workers: give this process its own back at the end
    environment = dict(os.environ)
    # a second task waits on each worker, so it never idles between results and the next task
    with dask.config.set({"distributed.scheduler.worker-saturation": WORKER_SATURATION}):
        cluster = LocalCluster(
            n_workers=plan.workers,
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            dashboard_address=f"{LOOPBACK}:0",  # a free port: several batches may run at once
            silence_logs=logging.ERROR,
            env=WORKER_ENV,
        )
    try:
        with Client(cluster) as client:
            _set_up_workers(
                client, StyleTransferWorker(torch_threads or plan.torch_threads, plan.gpus)
            )
            yield client
    finally:
        cluster.close()
        os.environ.clear()
        os.environ.update(environment)


def _set_up_workers(client: Client, plugin: StyleTransferWorker) -> None:
    try:
        client.register_plugin(plugin, name=PLUGIN_NAME)
    except Exception as error:  # e.g. a worker without the package: say what to do
        raise StyleTransferError(
            f"The dask workers could not be set up for style transfer ({type(error).__name__}: "
            f"{error}); every worker needs napari-styletransfer installed, same version as here."
        ) from error


@contextlib.contextmanager
def _existing(scheduler: str | None, scheduler_file: str | None) -> Iterator[Client]:
    try:
        client = Client(scheduler, scheduler_file=scheduler_file, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        where = scheduler or scheduler_file
        raise StyleTransferError(f"Cannot reach the dask scheduler at {where}: {error}") from error
    with client:
        yield client


def dashboard_link(client: Client) -> str | None:
    """The dashboard's address, when the scheduler serves one (it needs bokeh there)."""
    services = client.scheduler_info().get("services", {})
    if "dashboard" not in services:
        return None
    try:
        with_bokeh = client.run_on_scheduler(has_dashboard)
    except Exception:  # a scheduler that refuses to run functions: assume it is there
        with_bokeh = True
    return client.dashboard_link if with_bokeh else None
