"""Video: temporal consistency, speed and memory (issue #14).

    python benchmarks/bench_video.py --vtest PATH/vtest.avi            # everything
    python benchmarks/bench_video.py --vtest PATH --only consistency   # not timing-sensitive
    python benchmarks/bench_video.py --smoke                           # tiny sizes: the script works

``vtest.avi`` is in Debian's ``opencv-doc`` (``apt-get download opencv-doc``,
``dpkg -x``, usr/share/doc/opencv-doc/examples/data/vtest.avi); it is never
committed. Without it only the synthetic clip is measured. (``tree.avi`` and
``Megamind.avi`` from the same package are kept for independent evaluation.)

Sections (markdown on stdout, progress on stderr):

* **consistency**: temporal error (mean |O_t − warp(O_{t−1})| over pixels where
  the flow measured on the *input* frames is reliable, 0–255 levels) and style
  distance (the neutral yardstick of bench_quality.py: VGG19 Gram distance to
  the painting, averaged over every 3rd frame) with and without temporal
  consistency, on vtest.avi and on a synthetic pan over the bundled astronaut
  photo, whose true motion is known (its temporal error is also given with
  the exact shift instead of measured flow). Targets: error ≤ 0.5× at a style
  distance ≤ 1.1×.
* **timing**: fast mode end to end at 640×360 (decode + flow + network +
  encode, an .mp4 in and out) with 2 threads, at full size and at the default
  max_size (512), target ≥ 15 fps; quality mode's seconds per frame (first
  frame, then chained ones); on CUDA too when there is one. Needs a quiet machine.
* **memory**: peak RSS after frame 100 and after frame 1000 of a 1000-frame
  640×360 video (fast mode, streaming), in a fresh process.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from bench_quality import Yardstick
from common import machine_info, markdown_table, peak_rss_mb, run_worker

from napari_styletransfer import load_sample
from napari_styletransfer.api import StylizeRequest, run
from napari_styletransfer.api.frames import iter_run_frames
from napari_styletransfer.video import VideoWriter, open_video
from napari_styletransfer.video.metrics import temporal_error

STYLE = "starry-night"
PAN_SPEED = (2.7, 0.9)  # px per frame at 384 px: slow enough to follow, not a multiple of 4
SCRIPT = Path(__file__).resolve()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- clips


def pan_clip(count: int, width: int, height: int) -> list[np.ndarray]:
    """A camera pan over the astronaut photo; frame t is the scene moved by t × PAN_SPEED."""
    scale = width / 384
    side = round(640 * scale)
    scene = cv2.resize(load_sample("astronaut"), (side, side), interpolation=cv2.INTER_AREA)
    frames = []
    for t in range(count):
        dx, dy = (t * s * scale for s in PAN_SPEED)
        matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
        moved = cv2.warpAffine(scene, matrix, (side, side), flags=cv2.INTER_CUBIC)
        top, left = round(60 * scale), round(20 * scale)
        frames.append(np.ascontiguousarray(moved[top : top + height, left : left + width]))
    return frames


def video_clip(path: Path, count: int, width: int) -> list[np.ndarray]:
    """The first ``count`` frames of a video, resized to ``width`` (aspect kept)."""
    with open_video(path) as reader:
        height = round(reader.info.height * width / reader.info.width)
        return [
            cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            for frame in reader.iter_frames(0, count)
        ]


def known_shift_error(outputs: list[np.ndarray], scale: float, margin: int) -> float:
    """Temporal error with the true motion of the pan (exact shift, bicubic), inner pixels."""
    dx, dy = (s * scale for s in PAN_SPEED)
    errors = []
    for previous, current in itertools.pairwise(outputs):
        matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
        size = previous.shape[1::-1]
        warped = cv2.warpAffine(previous.astype(np.float32), matrix, size, flags=cv2.INTER_CUBIC)
        inner = (slice(margin, -margin), slice(margin, -margin))
        errors.append(float(np.abs(warped[inner] - current[inner]).mean()))
    return statistics.fmean(errors)


# ---------------------------------------------------------------- consistency


def stylise_clip(frames, method: str, temporal: bool, size: int, steps: int | None):
    request = StylizeRequest.create(
        STYLE, method=method, max_size=size, steps=steps, temporal=temporal, device="cpu"
    )
    start = time.perf_counter()
    out = run(request, np.stack(frames))
    return list(out), time.perf_counter() - start


def consistency(args) -> str:
    size = args.size
    clips = {"synthetic pan (astronaut)": pan_clip(args.frames, size, round(size * 9 / 16))}
    if args.vtest:
        clips["vtest.avi"] = video_clip(Path(args.vtest), args.frames, size)
    methods = [("fast", None, args.frames)]
    if args.quality_frames:
        methods.append(("quality", args.quality_steps, args.quality_frames))
    ruler = None
    rows = []
    for name, frames in clips.items():
        for method, steps, count in methods:
            clip = frames[:count]
            ruler = Yardstick(clip[0], load_sample(STYLE), size)
            result = {}
            for temporal in (False, True):
                log(f"consistency: {name}, {method}, temporal={temporal}, {len(clip)} frames")
                outputs, seconds = stylise_clip(clip, method, temporal, size, steps)
                style = statistics.fmean(ruler(o)[0] for o in outputs[::3])
                error = temporal_error(clip, outputs)
                exact = known_shift_error(outputs, size / 384, 12) if "pan" in name else None
                result[temporal] = (error, exact, style, seconds / len(clip))
            (e0, x0, s0, t0), (e1, x1, s1, t1) = result[False], result[True]
            rows.append(
                [
                    name,
                    method,
                    f"{len(clip)} × {clip[0].shape[1]}×{clip[0].shape[0]}",
                    f"{e0:.2f} → {e1:.2f}",
                    f"**{e1 / e0:.2f}×**",
                    "–" if x0 is None else f"{x0:.2f} → {x1:.2f}",
                    f"{s0:.3f} → {s1:.3f}",
                    f"**{s1 / s0:.2f}×**",
                    f"{t0:.2f} / {t1:.2f}",
                ]
            )
    header = [
        "clip",
        "method",
        "frames",
        "temporal error off → on",
        "ratio",
        "error with the true shift",
        "style distance off → on",
        "ratio",
        "s/frame off / on",
    ]
    return "### Temporal consistency\n\n" + markdown_table(header, rows)


# ---------------------------------------------------------------- timing


def write_clip(path: Path, frames) -> None:
    with VideoWriter(path, fps=25) as writer:
        for frame in frames:
            writer.write(frame)


def end_to_end(source: Path, target: Path, request: StylizeRequest) -> tuple[int, float, float]:
    """Decode, stylise and encode a whole video; (frames, seconds, seconds of frame 1)."""
    start = time.perf_counter()
    first = None
    with open_video(source) as reader, VideoWriter(target, reader.fps, overwrite=True) as writer:
        for report in iter_run_frames(request, reader.iter_frames(), count=len(reader)):
            if report.frame_result is not None:
                writer.write(report.frame_result)
                first = first or time.perf_counter() - start
    return writer.frames_written, time.perf_counter() - start, first


def timing(args) -> str:
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    width, height = args.timing_size
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "clip.mp4"
        if args.vtest:
            frames = video_clip(Path(args.vtest), args.timing_frames, width)
            frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
        else:
            frames = pan_clip(args.timing_frames, width, height)
        write_clip(source, frames)
        target = Path(folder) / "out.mp4"
        cases = [(size, temporal) for size in args.timing_max_sizes for temporal in (True, False)]
        for device in devices:
            for max_size, temporal in cases:
                request = StylizeRequest.create(
                    STYLE, method="fast", max_size=max_size, temporal=temporal, device=device
                )
                end_to_end(source, target, request)  # warm-up: networks loaded, caches filled
                count, seconds, _first = end_to_end(source, target, request)
                log(
                    f"timing: fast {device} {max_size} px temporal={temporal}: {count / seconds:.1f} fps"
                )
                rows.append(
                    [
                        "fast",
                        device,
                        "on" if temporal else "off",
                        f"{width}×{height} at {max_size} px",
                        count,
                        f"**{count / seconds:.1f}**",
                        f"{seconds / count:.3f}",
                    ]
                )
            quality = [frames[0], *frames[1 : args.quality_timing_frames]]
            request = StylizeRequest.create(STYLE, max_size=args.quality_size, device=device)
            log(f"timing: quality {device}, {len(quality)} frames")
            reports = iter_run_frames(request, quality, count=len(quality))
            start, times = time.perf_counter(), []
            for report in reports:
                if report.frame_result is not None:
                    times.append(time.perf_counter() - start)
                    start = time.perf_counter()
            chained = statistics.fmean(times[1:]) if len(times) > 1 else float("nan")
            rows.append(
                [
                    "quality",
                    device,
                    "on",
                    f"{width}×{height} at {args.quality_size} px",
                    len(times),
                    f"{1 / chained:.3f}",
                    f"first {times[0]:.1f}, then {chained:.1f}",
                ]
            )
    header = ["method", "device", "temporal", "frames", "count", "frames/s", "s/frame"]
    note = (
        f"End to end: an .mp4 decoded, stylised ({STYLE}) and encoded to .mp4; "
        f"{args.threads} threads; the second of two passes (the first also loads the networks)."
    )
    return "### Speed\n\n" + note + "\n\n" + markdown_table(header, rows)


# ---------------------------------------------------------------- memory


def memory_worker(job: dict) -> dict:
    """In a fresh process: peak RSS after each checkpoint frame of a streamed video."""
    torch.set_num_threads(job["threads"])
    width, height = job["size"]
    checkpoints = sorted(job["checkpoints"])
    count = checkpoints[-1]
    folder = Path(job["folder"])
    source, target = folder / "long.mp4", folder / "long_out.mp4"
    scene = pan_clip(2, width, height)[0]

    def frames():
        for t in range(count):
            yield np.roll(scene, t, axis=1)

    write_clip(source, frames())
    request = StylizeRequest.create("preset:7", method="fast", max_size=max(width, height))
    peaks = {}
    with open_video(source) as reader, VideoWriter(target, reader.fps) as writer:
        for report in iter_run_frames(request, reader.iter_frames(), count=len(reader)):
            if report.frame_result is not None:
                writer.write(report.frame_result)
                done = report.frame + 1
                if done in checkpoints:
                    peaks[done] = peak_rss_mb()
    return {"peaks": peaks}


def memory(args) -> str:
    with tempfile.TemporaryDirectory() as folder:
        job = {
            "threads": args.threads,
            "size": list(args.timing_size),
            "checkpoints": args.checkpoints,
            "folder": folder,
        }
        log(f"memory: {args.checkpoints[-1]} frames of {args.timing_size[0]}×{args.timing_size[1]}")
        peaks = run_worker(SCRIPT, job)["peaks"]
    rows = [[f"after frame {k}", f"{v:.0f}"] for k, v in peaks.items()]
    first, last = peaks[str(args.checkpoints[0])], peaks[str(args.checkpoints[-1])]
    rows.append(["growth", f"{last - first:+.0f} ({last / first:.2f}×)"])
    return "### Memory while streaming\n\n" + markdown_table(
        ["fast mode, streamed", "peak RSS (MB)"], rows
    )


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vtest", help="path of vtest.avi (Debian opencv-doc)")
    p.add_argument("--only", choices=("consistency", "timing", "memory"), action="append")
    p.add_argument("--frames", type=int, default=40, help="frames per clip (consistency)")
    p.add_argument("--size", type=int, default=384, help="longer side (consistency)")
    p.add_argument("--quality-frames", type=int, default=6, help="0: no quality-mode rows")
    p.add_argument("--quality-steps", type=int, default=None)
    p.add_argument("--quality-size", type=int, default=512, help="max_size of quality timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timing-frames", type=int, default=150)
    p.add_argument("--quality-timing-frames", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.timing_size = (640, 360)
    args.timing_max_sizes = (640, 512)  # the full frame, and the default max_size
    args.checkpoints = [100, 1000]
    if args.smoke:
        args.frames, args.size, args.quality_frames, args.quality_steps = 6, 96, 3, 6
        args.quality_size, args.timing_frames, args.quality_timing_frames = 64, 6, 2
        args.timing_size, args.checkpoints = (128, 72), [5, 20]
        args.timing_max_sizes = (128,)
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        import json

        print(json.dumps(memory_worker(json.loads(args.worker))))
        return
    sections = args.only or ["consistency", "timing", "memory"]
    parts = ["## Video (benchmarks/bench_video.py)", ""]
    parts += [f"- {k}: {v}" for k, v in machine_info().items()]
    for name in sections:
        parts += ["", {"consistency": consistency, "timing": timing, "memory": memory}[name](args)]
    print("\n".join(parts))


if __name__ == "__main__":
    main()
