"""Check every GPU path against the CPU, and print one table (a few minutes on one GPU).

    python benchmarks/gpu_check.py            # on a machine with CUDA
    python benchmarks/gpu_check.py --smoke    # anywhere: tiny sizes, "cuda" replaced by the CPU

Checks, each on CUDA and compared with the same run on the CPU:

* quality mode at 512 px (150 steps): style and content distances (the neutral
  yardstick of bench_quality.py) within 10 % of the CPU run's — the optimisation
  is chaotic, so pixels are not compared;
* fast mode at 1024 px (preset and style image): mean absolute difference
  below 1/255 and maximum below 16/255 on the 0–1 scale;
* segmentation (the bundled UNet): mask IoU with the CPU mask >= 0.98;
* the widget's worker path (``widgets.runner.run_job``, no Qt needed): its
  result equals the facade's on the same device, bit for bit;
* out of memory: a 4096 px quality run with the process limited to 4 GB of GPU
  memory must end in the StyleTransferError that suggests a smaller size.

Times, peak CUDA memory and the precision used (bf16/fp16/fp32) are reported.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, resized

OOM_LIMIT_GB = 4.0


def timed(function, device: str):
    """Run ``function()``; return (result, seconds, peak CUDA MB or None)."""
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = function()
    if cuda:
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return result, time.perf_counter() - start, peak


def precision_of(device: str, kind: str) -> str:
    from napari_styletransfer.devices import network_precision, resolve_device, resolve_precision

    torch_device = resolve_device(device)
    if kind == "quality":
        return resolve_precision(torch_device, "auto")
    return network_precision(torch_device)


def check_quality(gpu: str, size: int, steps: int) -> list:
    from bench_quality import Yardstick

    from napari_styletransfer import load_sample, stylize

    content = resized(load_sample("astronaut"), size)
    style = resized(load_sample("starry-night"), size)
    ruler = Yardstick(content, style, size)
    rows = []
    distances = {}
    for device in ("cpu", gpu):
        out, seconds, peak = timed(
            lambda d=device: stylize(content, style, max_size=size, steps=steps, device=d),
            device,
        )
        distances[device] = ruler(out)
        rows.append((device, seconds, peak, precision_of(device, "quality")))
    (cpu_style, cpu_content), (gpu_style, gpu_content) = distances["cpu"], distances[gpu]
    ok = abs(gpu_style / cpu_style - 1) <= 0.1 and abs(gpu_content / cpu_content - 1) <= 0.1
    detail = (
        f"style {gpu_style:.3f} vs {cpu_style:.3f}, content {gpu_content:.3f} vs {cpu_content:.3f}"
    )
    return [_row(f"quality {size} px", rows, ok, detail)]


def check_fast(gpu: str, size: int) -> list:
    from napari_styletransfer import load_sample, stylize

    content = resized(load_sample("chelsea"), size)
    result = []
    for style in ("preset:7", "great-wave"):
        outs, rows = {}, []
        for device in ("cpu", gpu):
            outs[device], seconds, peak = timed(
                lambda d=device, s=style: stylize(content, s, method="fast", device=d), device
            )
            rows.append((device, seconds, peak, precision_of(device, "fast")))
        diff = np.abs(outs["cpu"].astype(float) - outs[gpu].astype(float)) / 255
        ok = diff.mean() < 1 / 255 and diff.max() < 16 / 255
        detail = f"mean abs. diff. {diff.mean() * 255:.2f}/255, max {diff.max() * 255:.0f}/255"
        result.append(_row(f"fast {size} px, {style}", rows, ok, detail))
    return result


def check_segmentation(gpu: str) -> list:
    from napari_styletransfer import load_sample, segment_subject
    from napari_styletransfer.segmentation.postprocess import intersection_over_union

    photo = load_sample("chelsea")
    masks, rows = {}, []
    for device in ("cpu", gpu):
        masks[device], seconds, peak = timed(
            lambda d=device: segment_subject(photo, device=d), device
        )
        rows.append((device, seconds, peak, precision_of(device, "network")))
    iou = intersection_over_union(masks["cpu"], masks[gpu])
    return [_row("segmentation (chelsea)", rows, iou >= 0.98, f"IoU {iou:.4f}")]


def check_worker_path(gpu: str, size: int) -> list:
    from napari_styletransfer import load_sample
    from napari_styletransfer.api import StylizeRequest, run
    from napari_styletransfer.widgets.runner import DONE, Frame, FramesJob, run_job

    content = resized(load_sample("astronaut"), size)
    request = StylizeRequest.create("kandinsky", max_size=size, steps=20, device=gpu)
    job = FramesJob([Frame((), content)], request)

    def worker():
        steps = run_job(job, threading.Event())
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return stop.value

    outcome, seconds, peak = timed(worker, gpu)
    direct = run(request, content)
    ok = outcome.status == DONE and np.array_equal(outcome.results[()], direct)
    detail = f"status {outcome.status}, equal to the facade's result: {ok}"
    return [_row("widget worker path", [(gpu, seconds, peak, outcome.device)], ok, detail)]


def check_out_of_memory(gpu: str, size: int) -> list:
    from napari_styletransfer import load_sample, stylize
    from napari_styletransfer.errors import StyleTransferError

    content = resized(load_sample("astronaut"), size)
    if gpu.startswith("cuda"):
        total = torch.cuda.get_device_properties(0).total_memory / 2**30
        torch.cuda.set_per_process_memory_fraction(min(1.0, OOM_LIMIT_GB / total))
    start = time.perf_counter()
    try:
        stylize(content, "starry-night", max_size=size, steps=2, device=gpu)
        ok, detail = False, "no error: the limit was not reached"
    except StyleTransferError as error:
        ok, detail = "smaller max size" in str(error), f"StyleTransferError: {error}"
    except Exception as error:  # the very thing this check exists to catch
        ok, detail = False, f"{type(error).__name__}: {error}"
    finally:
        if gpu.startswith("cuda"):
            torch.cuda.set_per_process_memory_fraction(1.0)
            torch.cuda.empty_cache()
    seconds = time.perf_counter() - start
    return [
        _row(
            f"out of memory ({size} px, {OOM_LIMIT_GB:g} GB)",
            [(gpu, seconds, None, "")],
            ok,
            detail,
        )
    ]


def _row(name: str, runs: list, ok: bool, detail: str) -> list:
    times = ", ".join(f"{d} {s:.2f} s" for d, s, _, _ in runs)
    memory = ", ".join(f"{p:.0f} MB" for d, _, p, _ in runs if p is not None) or "—"
    precision = ", ".join(f"{d} {p}" for d, _, _, p in runs if p)
    return [name, "ok" if ok else "FAIL", times, memory, precision, detail]


def main(argv=None) -> int:
    """Run every check and print the table; exit 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, the CPU for 'cuda'")
    args = parser.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to check (run with --smoke to test it).")
        return 0
    gpu = "cpu" if args.smoke else "cuda"
    sizes = (
        {"quality": 64, "steps": 6, "fast": 96, "worker": 48, "oom": 64}
        if args.smoke
        else {"quality": 512, "steps": 150, "fast": 1024, "worker": 256, "oom": 4096}
    )
    start = time.perf_counter()
    rows = []
    rows += check_quality(gpu, sizes["quality"], sizes["steps"])
    rows += check_fast(gpu, sizes["fast"])
    rows += check_segmentation(gpu)
    rows += check_worker_path(gpu, sizes["worker"])
    if not args.smoke:  # on the CPU nothing limits memory
        rows += check_out_of_memory(gpu, sizes["oom"])
    device = torch.cuda.get_device_name(0) if gpu == "cuda" else "CPU (smoke run)"
    print(f"GPU check on {device}, torch {torch.__version__}, {time.perf_counter() - start:.0f} s")
    header = ["check", "result", "time", "peak CUDA memory", "precision", "detail"]
    print(markdown_table(header, rows))
    return 0 if all(row[1] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
