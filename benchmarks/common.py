"""Helpers shared by the benchmark scripts: machine facts, memory peaks, workers.

Each measured run happens in a fresh Python process (a "worker") so that its
peak resident memory (``ru_maxrss``) belongs to that run alone.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """CPU feature flags (empty when unknown)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def total_ram_gb() -> float:
    """Physical memory in GB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    flags = cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "CPU": f"{cpu_model()} ({os.cpu_count()} cores; {' '.join(f for f in wanted if f in flags)})",
        "RAM": f"{total_ram_gb():.1f} GB",
        "GPU": cuda,
        "Python": platform.python_version(),
        "torch": f"{torch.__version__} (CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{torch.get_num_threads()} threads)",
        "OMP_WAIT_POLICY (workers)": worker_env()["OMP_WAIT_POLICY"],
        "Load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cuda_peak_mb() -> float | None:
    """Peak CUDA memory allocated by torch in this process, in MB (None without CUDA)."""
    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def resized(image: np.ndarray, longer_side: int) -> np.ndarray:
    """A uint8 RGB image resized (bicubic) so that its longer side is ``longer_side``."""
    pil = Image.fromarray(image)
    scale = longer_side / max(pil.size)
    size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
    return np.asarray(pil.resize(size, Image.BICUBIC))


def worker_env() -> dict[str, str]:
    """The environment of worker processes.

    OpenMP threads that spin while waiting are 10–20× slower on a machine whose
    cores other processes also use (measured here: a 128 px VGG pass took 4.7 s
    with spinning threads, 0.2–0.5 s with passive ones). Workers therefore get
    ``OMP_WAIT_POLICY=PASSIVE`` unless the caller's environment sets a policy.
    """
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def run_worker(script: Path, job: dict, timeout: float | None = None) -> dict:
    """Run ``script --worker JOB`` in a fresh process; return the JSON it prints last."""
    command = [sys.executable, str(script), "--worker", json.dumps(job)]
    # stderr goes straight through: progress lines and, on failure, the traceback
    done = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False, env=worker_env()
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {job} failed (exit {done.returncode}), see above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def record_pictures(runner, keep, log: str | None = None) -> tuple[list, list, list, float]:
    """Drive an ``iter_stylize`` run, timing only the engine's own work.

    Parameters
    ----------
    runner : generator of Progress
    keep : callable
        ``keep(report)`` says whether to keep this report's picture.
    log : str, optional
        A label; when given, each kept step is printed on stderr.

    Returns
    -------
    steps, times, images : list
        The kept steps, the engine seconds up to each, and their pictures.
    busy : float
        Engine seconds in all.
    """
    busy, steps, times, images = 0.0, [], [], []
    while True:
        start = time.perf_counter()
        report = next(runner, None)
        busy += time.perf_counter() - start
        if report is None:
            return steps, times, images, busy
        if not keep(report):
            continue
        if steps and steps[-1] == report.step:  # the final report repeats the last step
            del steps[-1], times[-1], images[-1]
        steps.append(report.step)
        times.append(busy)
        images.append(report.result if report.done else report.preview)
        if log:
            print(f"  {log} step {report.step}: {busy:.1f} s", file=sys.stderr, flush=True)
