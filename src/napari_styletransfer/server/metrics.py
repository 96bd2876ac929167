"""Prometheus metrics of one server (its own registry, so several apps can coexist)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from .jobs import JobManager

# seconds per job: fast mode takes tens of milliseconds, quality mode minutes
JOB_SECONDS_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    """Counters, histograms and scrape-time gauges for a :class:`JobManager`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu, fds
        self.finished = Counter(
            "styletransfer_jobs_finished",
            "Jobs that ended, by final state and method.",
            ("state", "method"),
            registry=self.registry,
        )
        self.seconds = Histogram(
            "styletransfer_job_seconds",
            "Seconds a job ran on its worker, by method.",
            ("method",),
            buckets=JOB_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "styletransfer_request_errors",
            "Requests answered with an error, by error code (e.g. queue_full).",
            ("error",),
            registry=self.registry,
        )

    def watch(self, manager: JobManager) -> None:
        """Report this manager's jobs, queue and devices at every scrape."""
        self.registry.register(_ManagerCollector(manager))

    def job_finished(self, job, seconds: float) -> None:
        """Count a finished job (the JobManager's ``on_finished``)."""
        self.finished.labels(job.state, job.method).inc()
        self.seconds.labels(job.method).observe(seconds)

    def request_error(self, code: str) -> None:
        """Count an error answer."""
        self.errors.labels(code).inc()

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class _ManagerCollector:
    def __init__(self, manager: JobManager):
        self.manager = manager

    def collect(self):
        jobs = GaugeMetricFamily(
            "styletransfer_jobs", "Jobs the server knows of, by state.", labels=("state",)
        )
        for state, count in self.manager.counts().items():
            jobs.add_metric((state,), count)
        yield jobs
        yield GaugeMetricFamily(
            "styletransfer_queue_length", "Jobs waiting for a worker.", self.manager.queue_length()
        )
        memory = GaugeMetricFamily(
            "styletransfer_device_memory_bytes",
            "Memory in use per device: torch's allocated and reserved bytes on GPUs, "
            "the process's resident memory on the CPU.",
            labels=("device", "kind"),
        )
        for device, name in zip(self.manager.devices, self.manager.device_names, strict=True):
            for kind, value in device_memory(device).items():
                memory.add_metric((name, kind), value)
        yield memory


def device_memory(device) -> dict[str, float]:
    """Bytes in use on a device (see the metric's help)."""
    import torch

    if device.type == "cuda":
        return {
            "allocated": float(torch.cuda.memory_allocated(device)),
            "reserved": float(torch.cuda.memory_reserved(device)),
        }
    if device.type == "mps" and hasattr(torch, "mps"):
        return {"allocated": float(torch.mps.current_allocated_memory())}
    import psutil

    return {"resident": float(psutil.Process().memory_info().rss)}
