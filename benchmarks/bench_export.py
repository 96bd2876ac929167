"""ONNX and INT8 exports against our torch networks: speed on this CPU and accuracy.

    python benchmarks/bench_export.py           # 512 px (subject model at its 256 px input)
    python benchmarks/bench_export.py --smoke   # 64 px, one run: checks the script works

Prints a markdown section on stdout (progress on stderr). The graphs are
exported into a temporary folder with ``export_model`` (INT8 static, QDQ,
calibrated on the bundled images) and additionally quantised dynamically.

* Speed: seconds per image of the torch network (the engine's call, network
  output cache cleared) and of onnxruntime (CPU provider, no spin-waiting) on
  the same input, with all cores and with one thread; median over blocks that
  alternate between the contenders.
* Accuracy: presets: the yardstick of ``bench_quality.py`` with the torch
  result as the style target (Gram distance to torch; torch itself scores 0);
  style images: style and content distance to the painting and the photo, for
  torch and each export; subject model: IoU of the 0.5-masks with torch's.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import Yardstick
from common import machine_info, markdown_table

from napari_styletransfer import load_sample
from napari_styletransfer.export.exporter import export_model, quantise
from napari_styletransfer.export.graphs import graphs, image_input, one_hot
from napari_styletransfer.fast import cache
from napari_styletransfer.fast.run import fast_stylize, style_vector
from napari_styletransfer.segmentation.postprocess import intersection_over_union

warnings.filterwarnings("ignore")
CPU = torch.device("cpu")
VARIANTS = ("fp32", "int8 static", "int8 dynamic")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # spinning threads would slow the torch calls that alternate with these
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def alternate(functions: dict[str, Callable], repeats: int, rounds: int) -> dict[str, float]:
    """Median seconds of each function over ``rounds`` alternating blocks of ``repeats``."""
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            function()  # warm-up, untimed
            for _ in range(repeats):
                start = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def to_hwc(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array[0].transpose(1, 2, 0))


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def export_all(folder: Path) -> dict[str, dict[str, Path]]:
    """Per graph name: variant → file."""
    files = {}
    for model in ("presets", "arbitrary", "subject"):
        log(f"exporting {model}")
        export_model(model, folder, int8=True)
        for graph in graphs(model):
            fp32 = folder / f"{graph.name}.onnx"
            dynamic = folder / f"{graph.name}.int8-dynamic.onnx"
            quantise(graph, fp32, dynamic, "dynamic")
            files[graph.name] = {
                "fp32": fp32,
                "int8 static": folder / f"{graph.name}.int8.onnx",
                "int8 dynamic": dynamic,
            }
    return files


def style_cases(files, size: int, repeats: int, rounds: int) -> tuple[list, list]:
    photo = image_input("astronaut", size)
    photo_hwc = to_hwc(photo)
    speed, accuracy = [], []

    def torch_preset():
        cache.last_preset_output.clear()
        return fast_stylize(photo_hwc, "preset:7", device=CPU)

    painting = image_input("starry-night", (256, 256))
    painting_hwc = to_hwc(painting)
    vector = style_vector(painting_hwc, CPU).numpy()

    def torch_arbitrary():
        return fast_stylize(photo_hwc, painting_hwc, device=CPU)

    cases = {
        f"preset 7, {size} px": (
            torch_preset,
            "presets",
            {"image": photo, "weights": one_hot(7)},
        ),
        f"style image (Starry Night), {size} px": (
            torch_arbitrary,
            "arbitrary_transform",
            {"image": photo, "style": vector},
        ),
    }
    for label, (torch_call, graph, feeds) in cases.items():
        for threads in (os.cpu_count() or 1, 1):
            torch.set_num_threads(threads)
            sessions = {v: ort_session(files[graph][v], threads) for v in VARIANTS}
            calls = {"torch": torch_call}
            calls |= {v: (lambda s=s, f=feeds: s.run(None, f)[0]) for v, s in sessions.items()}
            log(f"timing {label}, {threads} thread(s)")
            seconds = alternate(calls, repeats, rounds)
            speed.append([f"{label}, {threads} thread(s)", *speed_cells(seconds)])
        torch.set_num_threads(os.cpu_count() or 1)
        reference = torch_call()
        outputs = {v: to_hwc(ort_session(files[graph][v], 2).run(None, feeds)[0]) for v in VARIANTS}
        accuracy += accuracy_rows(label, graph, reference, outputs, photo_hwc, painting_hwc, size)
    return speed, accuracy


def speed_cells(seconds: dict[str, float]) -> list[str]:
    base = seconds["torch"]
    cells = [f"{base:.4f}"]
    for variant in VARIANTS:
        cells.append(f"{seconds[variant]:.4f} ({base / seconds[variant]:.2f}×)")
    return cells


def accuracy_rows(label, graph, reference, outputs, photo, painting, size) -> list[list]:
    rows = []
    if graph == "presets":  # no painting: the torch result is the style target
        ruler = Yardstick(to_uint8(photo), to_uint8(reference), size)
        for variant, output in outputs.items():
            style, content = ruler(to_uint8(output))
            mean = float(np.abs(output - reference).mean())
            rows.append([label, variant, f"Gram distance to torch {style:.4f}", f"{mean:.4f}"])
        return rows
    ruler = Yardstick(to_uint8(photo), to_uint8(painting), size)
    style, content = ruler(to_uint8(reference))
    rows.append([label, "torch", f"style {style:.4f}, content {content:.4f}", "0"])
    for variant, output in outputs.items():
        style, content = ruler(to_uint8(output))
        mean = float(np.abs(output - reference).mean())
        rows.append([label, variant, f"style {style:.4f}, content {content:.4f}", f"{mean:.4f}"])
    return rows


def subject_cases(files, repeats: int, rounds: int) -> tuple[list, list]:
    [graph] = graphs("subject")
    inputs = {name: image_input(name, (256, 256)) for name in ("astronaut", "chelsea")}
    flipped = {f"{k} (mirrored)": np.ascontiguousarray(v[..., ::-1]) for k, v in inputs.items()}
    inputs |= flipped
    speed, accuracy = [], []
    first = next(iter(inputs.values()))
    for threads in (os.cpu_count() or 1, 1):
        torch.set_num_threads(threads)
        sessions = {v: ort_session(files["subject_unet"][v], threads) for v in VARIANTS}

        def torch_call():
            with torch.inference_mode():
                return graph.module(torch.from_numpy(first)).numpy()

        calls = {"torch": torch_call}
        calls |= {v: (lambda s=s: s.run(None, {"rgb": first})[0]) for v, s in sessions.items()}
        log(f"timing subject model, {threads} thread(s)")
        seconds = alternate(calls, repeats, rounds)
        speed.append([f"subject model, 256 px, {threads} thread(s)", *speed_cells(seconds)])
    torch.set_num_threads(os.cpu_count() or 1)
    for variant in VARIANTS:
        session = ort_session(files["subject_unet"][variant], 2)
        ious = []
        for image in inputs.values():
            with torch.inference_mode():
                reference = graph.module(torch.from_numpy(image)).numpy()
            output = session.run(None, {"rgb": image})[0]
            ious.append(intersection_over_union(output > 0.5, reference > 0.5))
        accuracy.append(
            [
                "subject model (bundled photos and mirror images)",
                variant,
                f"IoU with torch: min {min(ious):.4f}, mean {np.mean(ious):.4f}",
                "",
            ]
        )
    return speed, accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="64 px, one run")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.repeats, args.rounds = 64, 1, 1
    info = machine_info()
    load_sample("astronaut")
    with tempfile.TemporaryDirectory() as folder:
        files = export_all(Path(folder))
        sizes = {name: variants["fp32"].stat().st_size / 1e6 for name, variants in files.items()}
        int8 = {
            name: variants["int8 static"].stat().st_size / 1e6 for name, variants in files.items()
        }
        speed, accuracy = style_cases(files, args.size, args.repeats, args.rounds)
        more_speed, more_accuracy = subject_cases(files, args.repeats, args.rounds)
    command = "python benchmarks/bench_export.py " + " ".join(argv or sys.argv[1:])
    lines = [
        "<!-- export: generated by benchmarks/bench_export.py -->",
        "## ONNX and INT8 exports (CPU, onnxruntime)",
        "",
        f"Command: `{command.strip()}` (median of {args.rounds} alternating blocks of "
        f"{args.repeats} warm runs; seconds per image, speed-up against torch in brackets).",
        "",
        markdown_table(
            ["case", "torch s", "ONNX fp32 s", "INT8 static s", "INT8 dynamic s"],
            speed + more_speed,
        ),
        "",
        markdown_table(
            ["case", "network", "yardstick", "mean |Δ| to torch (0–1)"], accuracy + more_accuracy
        ),
        "",
        markdown_table(
            ["graph", "fp32 MB", "INT8 static MB"],
            [[name, f"{sizes[name]:.2f}", f"{int8[name]:.2f}"] for name in sizes],
        ),
        "",
        f"- Machine: {info['CPU']}; torch {info['torch']}; "
        f"load average at start {info['Load average at start']}.",
        "<!-- end of export -->",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
