"""Time subject segmentation of photos at 512, 1024 and 2048 px (longer side).

    python benchmarks/bench_segmentation.py [--device cpu] [--repeats 5] [--threads N]

Prints the median wall time of ``segment_subject`` per size, after one warm-up
call (which also loads the model). The machine may be shared: numbers are noisy,
and on a busy machine one torch thread can beat several (no spin-waiting).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from napari_styletransfer import load_sample
from napari_styletransfer.segmentation import get_model, segment_subject

SIZES = (512, 1024, 2048)


def photo_of_size(longer_side: int) -> np.ndarray:
    """The bundled cat photo resized so that its longer side is ``longer_side``."""
    photo = Image.fromarray(load_sample("chelsea"))
    scale = longer_side / max(photo.size)
    size = (round(photo.width * scale), round(photo.height * scale))
    return np.asarray(photo.resize(size, Image.BICUBIC))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    get_model(args.device)
    print(
        f"model load: {time.perf_counter() - start:.2f} s, torch threads {torch.get_num_threads()}"
    )
    for size in SIZES:
        photo = photo_of_size(size)
        segment_subject(photo, device=args.device)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            segment_subject(photo, device=args.device)
            times.append(time.perf_counter() - start)
        print(
            f"{photo.shape[1]}×{photo.shape[0]} px: median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s ({args.repeats} runs, device {args.device})"
        )


if __name__ == "__main__":
    main()
