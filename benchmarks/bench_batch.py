"""Batch style transfer on dask: overhead, scaling, and a stack larger than memory.

    python benchmarks/bench_batch.py                      # everything (needs a quiet machine, ~30–60 min)
    python benchmarks/bench_batch.py --section overhead   # one section: overhead, scaling or stack
    python benchmarks/bench_batch.py --smoke              # tiny sizes, a minute or two

Sections (markdown on stdout, progress on stderr):

- **overhead**: 200 photos at 512 px in fast mode, a plain in-process loop
  (read, stylise, write) against ``run_batch`` on a local cluster of one
  worker with the same torch threads. Target: at most 5 % slower.
- **scaling**: the same batch on 1 and 2 single-threaded workers, and on
  local clusters of N worker processes; every item must come back.
- **stack**: a 4 GiB synthetic T-stack in Zarr (2048 × 1024 × 1024 uint16),
  fast mode, one worker: peak resident memory of the client (with the
  scheduler), the worker and its nanny, summed (``VmHWM``). Target: < 2 GB.

Every configuration runs in a fresh process. The photos are built from the
bundled samples and Debian-packaged photos (``opencv-doc``, ``darknet``,
``mate-backgrounds``; never GCompris' explore_* sets) with flips and crops,
into the cache folder; nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
from common import markdown_table, run_worker  # noqa: E402

DEFAULT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or "/tmp") / "napari-styletransfer-batch-bench"
)
STYLE = "preset:7"
PHOTO_SIDE = 512
PHOTO_COUNT = 200
# natural photos only (the folders also hold calibration patterns, logos and text)
DEBIAN_PHOTOS = {
    "opencv-doc": (
        "usr/share/doc/opencv-doc/examples/data",
        "fruits baboon HappyFish home squirrel_cls aloeL board orange messi5 apple "
        "butterfly building stuff leuvenA leuvenB graf1 basketball1 smarties ela_original",
    ),
    "darknet": ("usr/share/darknet/data", "eagle kite dog giraffe person horses"),
    "mate-backgrounds": (
        "usr/share/backgrounds/mate/nature",
        "Elephants GreenTraditional Garden Dune Wood Aqua TwoWings Storm GreenMeadow "
        "RainDrops FreshFlower LadyBird YellowFlower",
    ),
}
STACK_SHAPE = (2048, 1024, 1024)  # uint16: 4 GiB
SMOKE_STACK_SHAPE = (16, 256, 256)


# --- data ---------------------------------------------------------------------------------


def source_photos(cache: Path) -> dict[str, np.ndarray]:
    """The bundled content photos and the Debian-packaged ones, as RGB arrays."""
    from build_samples import unpack_debian_package

    from napari_styletransfer import load_sample
    from napari_styletransfer.samples import content_names

    photos = {name: load_sample(name) for name in content_names()}
    for package, (folder, names) in DEBIAN_PHOTOS.items():
        root = unpack_debian_package(package, cache / "debs") / folder
        for name in names.split():
            matches = sorted(root.rglob(f"{name}.*"))
            if matches:
                with Image.open(matches[0]) as image:
                    photos[f"{package}-{name}"] = np.asarray(image.convert("RGB"))
    return photos


def variants(image: np.ndarray) -> list[np.ndarray]:
    """The photo, its mirror image and three crops (so 40 photos make 200 pictures)."""
    height, width = image.shape[:2]
    h, w = int(height * 0.75), int(width * 0.75)
    centre = image[(height - h) // 2 : (height + h) // 2, (width - w) // 2 : (width + w) // 2]
    return [image, image[:, ::-1], image[:h, :w], image[height - h :, width - w :], centre[:, ::-1]]


def build_photos(cache: Path, count: int, side: int) -> Path:
    """``count`` JPEG pictures with longer side ``side`` in a cache folder (made once)."""
    folder = cache / f"photos-{count}-{side}"
    if len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    pictures = [
        (f"{name}-{k}", picture)
        for name, photo in sorted(source_photos(cache).items())
        for k, picture in enumerate(variants(photo))
    ]
    if len(pictures) < count:
        sys.exit(f"only {len(pictures)} pictures could be made, {count} wanted")
    for name, picture in pictures[:count]:
        image = Image.fromarray(np.ascontiguousarray(picture))
        image.thumbnail((side, side), Image.LANCZOS)
        image.save(folder / f"{name}.jpg", quality=92)
    return folder


def build_stack(cache: Path, shape: tuple[int, int, int]) -> Path:
    """A synthetic uint16 T-stack in Zarr: drifting blobs on a gradient, with noise."""
    import zarr

    path = cache / f"stack-{'x'.join(map(str, shape))}.zarr"
    if (path / "zarr.json").is_file() and (path / ".complete").is_file():
        return path
    shutil.rmtree(path, ignore_errors=True)
    frames, height, width = shape
    array = zarr.create_array(
        str(path), shape=shape, chunks=(1, height, width), dtype="uint16", fill_value=0
    )
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    rng = np.random.default_rng(0)
    centres = rng.random((6, 2)) * (height, width)
    speeds = rng.normal(0, 2, (6, 2))
    for t in range(frames):
        frame = 8000 + 6000 * xx / width
        for (cy, cx), (vy, vx) in zip(centres, speeds, strict=True):
            y, x = (cy + vy * t) % height, (cx + vx * t) % width
            frame += 30000 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * (height / 12) ** 2))
        frame += rng.normal(0, 300, frame.shape)
        array[t] = np.clip(frame, 0, 65535).astype(np.uint16)
        if t % 256 == 0:
            print(f"  stack: frame {t}/{frames}", file=sys.stderr, flush=True)
    (path / ".complete").write_text("ok\n")
    return path


# --- measured runs (each in its own process) ----------------------------------------------


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _own_peak_rss_mb() -> float:
    return peak_rss_mb()


def _pid_and_peak() -> tuple[int, float]:
    return os.getpid(), peak_rss_mb()


def loop_job(job: dict) -> dict:
    """A plain in-process loop over the photos: read, stylise, write."""
    import torch

    from napari_styletransfer.api import StylizeRequest
    from napari_styletransfer.batch.sources import discover
    from napari_styletransfer.batch.style import style_features
    from napari_styletransfer.batch.tasks import PictureTask, run_picture

    torch.set_num_threads(job["torch_threads"])
    request = StylizeRequest.create(STYLE, method="fast", max_size=job["max_size"])
    items, _ = discover([job["inputs"]])
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    features = style_features(request)
    ok = 0
    for item in items:
        result = run_picture(PictureTask(item, out / item.path.name), request, features)
        if result.written:
            os.replace(result.written, out / item.path.name)
            ok += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ok": ok, "items": len(items), "rss_mb": peak_rss_mb()}


def batch_job(job: dict) -> dict:
    """``run_batch`` on a local cluster of ``workers`` processes."""
    from napari_styletransfer.api import StylizeRequest
    from napari_styletransfer.batch import run_batch
    from napari_styletransfer.batch.cluster import connect

    request = StylizeRequest.create(STYLE, method="fast", max_size=job["max_size"])
    start = time.perf_counter()
    with connect(workers=job["workers"], torch_threads=job["torch_threads"]) as client:
        started = time.perf_counter() - start
        summary = run_batch(
            [job["inputs"]], job["out"], request, client=client, progress=False, say=lambda _: None
        )
        workers = client.run(_own_peak_rss_mb)
        nannies = client.run(_pid_and_peak, nanny=True)
    # a LocalCluster's nannies live in this process unless they are processes of their own
    nannies = {pid: mb for pid, mb in nannies.values() if pid != os.getpid()}
    return {
        "seconds": summary.seconds,
        "startup": started,
        "ok": len(summary.done),
        "failed": len(summary.failed),
        "images": summary.units_done,
        "rss_mb": peak_rss_mb() + sum(workers.values()) + sum(nannies.values()),
        "client_mb": peak_rss_mb(),
        "nanny_processes": len(nannies),
        "workers_mb": sorted(workers.values()),
        "nannies_mb": sorted(nannies.values()),
    }


def worker_main(job: dict) -> dict:
    """Run one configuration (in this fresh process)."""
    return loop_job(job) if job["kind"] == "loop" else batch_job(job)


# --- sections -----------------------------------------------------------------------------


def fresh_out(cache: Path, name: str) -> str:
    out = cache / "out" / name
    shutil.rmtree(out, ignore_errors=True)
    return str(out)


def overhead(cache: Path, photos: Path, count: int, max_size: int, cores: int) -> str:
    common = {"inputs": str(photos), "max_size": max_size, "torch_threads": cores}
    print("overhead: in-process loop", file=sys.stderr, flush=True)
    loop = run_worker(Path(__file__), common | {"kind": "loop", "out": fresh_out(cache, "loop")})
    print("overhead: run_batch, 1 worker", file=sys.stderr, flush=True)
    batch = run_worker(
        Path(__file__),
        common | {"kind": "batch", "workers": 1, "out": fresh_out(cache, "batch-1")},
    )
    ratio = batch["seconds"] / loop["seconds"] - 1
    rows = [
        [
            "in-process loop",
            f"{loop['seconds']:.1f}",
            "–",
            f"{60 * count / loop['seconds']:.0f}",
            f"{loop['ok']}/{count}",
            f"{loop['rss_mb']:.0f}",
        ],
        [
            "run_batch, LocalCluster of 1 worker",
            f"{batch['seconds']:.1f}",
            f"{batch['startup']:.1f}",
            f"{60 * count / batch['seconds']:.0f}",
            f"{batch['ok']}/{count}",
            f"{batch['rss_mb']:.0f}",
        ],
    ]
    table = markdown_table(
        [
            "run",
            "batch (s)",
            "cluster start (s)",
            "img/min",
            "written",
            "peak RSS, all processes (MB)",
        ],
        rows,
    )
    return "\n".join(
        [
            f"### Overhead of the distributed path ({count} photos at {max_size} px, fast mode, "
            f"`{STYLE}`, {cores} torch threads)",
            "",
            table,
            "",
            f"Distributed path against the plain loop: **{ratio:+.1%}** (target ≤ +5 %). "
            "The batch time runs from the first submission to the last manifest line and "
            "includes the network load on the worker, as the loop's includes it; starting the "
            "cluster (worker processes importing torch) is shown apart.",
        ]
    )


def scaling(
    cache: Path, photos: Path, count: int, max_size: int, counts: list[int], cores: int
) -> str:
    rows = []
    configs = [(1, 1), (2, 1)] + [(n, max(1, cores // n)) for n in counts]
    for workers, threads in dict.fromkeys(configs):
        label = f"{workers} worker(s) × {threads} torch thread(s)"
        print(f"scaling: {label}", file=sys.stderr, flush=True)
        job = {
            "kind": "batch",
            "inputs": str(photos),
            "max_size": max_size,
            "workers": workers,
            "torch_threads": threads,
            "out": fresh_out(cache, f"scale-{workers}-{threads}"),
        }
        result = run_worker(Path(__file__), job)
        lost = count - result["ok"] - result["failed"]
        rows.append(
            [
                label,
                f"{result['seconds']:.1f}",
                f"{60 * count / result['seconds']:.0f}",
                result["ok"],
                result["failed"],
                lost,
                f"{result['rss_mb']:.0f}",
            ]
        )
    table = markdown_table(
        ["cluster", "batch (s)", "img/min", "done", "failed", "lost", "peak RSS, all (MB)"], rows
    )
    return "\n".join(
        [
            f"### Scaling on this machine ({count} photos at {max_size} px, fast mode, loopback)",
            "",
            table,
        ]
    )


def stack(cache: Path, shape: tuple[int, int, int], max_size: int, cores: int) -> str:
    path = build_stack(cache, shape)
    gib = np.prod(shape) * 2 / 2**30
    print(f"stack: {gib:.2f} GiB, {shape[0]} slices", file=sys.stderr, flush=True)
    job = {
        "kind": "batch",
        "inputs": str(path),
        "max_size": max_size,
        "workers": 1,
        "torch_threads": cores,
        "out": fresh_out(cache, "stack"),
    }
    result = run_worker(Path(__file__), job)
    table = markdown_table(
        [
            "stack",
            "slices",
            "batch (s)",
            "img/min",
            "client + scheduler + nanny (MB)",
            "worker (MB)",
            "nanny processes (MB)",
            "sum (MB)",
        ],
        [
            [
                f"{'×'.join(map(str, shape))} uint16 ({gib:.2f} GiB)",
                result["images"],
                f"{result['seconds']:.0f}",
                f"{60 * result['images'] / result['seconds']:.0f}",
                f"{result['client_mb']:.0f}",
                " + ".join(f"{m:.0f}" for m in result["workers_mb"]),
                " + ".join(f"{m:.0f}" for m in result["nannies_mb"]) or "none (in the client)",
                f"**{result['rss_mb']:.0f}**",
            ]
        ],
    )
    return "\n".join(
        [
            f"### A stack larger than it needs to be in memory (Zarr, fast mode at {max_size} px, "
            "1 worker)",
            "",
            table,
            "",
            "Peak resident memory (`VmHWM`) of each process over the whole run, summed (a "
            "LocalCluster runs its scheduler and nannies in the client's process). "
            f"Target: under 2 GB; {result['ok']} store written, {result['failed']} failed.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("overhead", "scaling", "stack", "all"), default="all")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--workers", default="1,2,4", help="cluster sizes for the scaling section")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker_main(json.loads(args.worker))))
        return
    from napari_styletransfer.batch.cluster import usable_cores

    cores = usable_cores()
    count, side, max_size = (12, 96, 48) if args.smoke else (PHOTO_COUNT, PHOTO_SIDE, PHOTO_SIDE)
    shape = SMOKE_STACK_SHAPE if args.smoke else STACK_SHAPE
    sections = ["## Batch on dask (`benchmarks/bench_batch.py`)", ""]
    if args.section in ("overhead", "scaling", "all"):
        photos = build_photos(args.cache, count, side)
    if args.section in ("overhead", "all"):
        sections += [overhead(args.cache, photos, count, max_size, cores), ""]
    if args.section in ("scaling", "all"):
        counts = [int(n) for n in args.workers.split(",")]
        sections += [scaling(args.cache, photos, count, max_size, counts, cores), ""]
    if args.section in ("stack", "all"):
        sections += [stack(args.cache, shape, max_size if not args.smoke else 64, cores), ""]
    print("\n".join(sections).rstrip())


if __name__ == "__main__":
    main()
