"""Fast then refine: quality mode started from the fast result versus from the photo.

    python benchmarks/bench_refine.py [--size 384] [--steps 100] [--every 5] [--smoke]

For the astronaut photo and each bundled painting (starry-night, the-scream),
quality mode runs twice with the same step budget: once from the photo
(``init="content"``, the default) and once from fast mode's picture
(``init="fast"``: the arbitrary-style network with the same painting, at the
working size). Every ``--every`` steps the full-size preview is kept; the
yardstick of ``bench_quality.py`` (Gram style distance relu1_1…relu5_1 and
content distance relu4_2 on the same VGG19, lower is better) is computed
afterwards, off the clock. Each run happens in its own process.

The goal is the photo-started run's final quality: style distance at most
its final one with a content distance at most 10 % above its final one.
Both runs are held to it (the slack lets the photo-started run itself get
there before its last step); the report gives the first kept step at which
each run reaches it and how many fewer the fast-started run needs, and the
same for the style distance alone.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import Yardstick
from common import markdown_table, record_pictures, resized, run_worker

HERE = Path(__file__).resolve()
CONTENT_NAME = "astronaut"
STYLE_NAMES = ("starry-night", "the-scream")
CONTENT_SLACK = 1.10  # the fast-started run may be this much further from the content


def inputs(style_name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Content and style (uint8 RGB), both with longer side ``size``."""
    from napari_styletransfer import load_sample

    return resized(load_sample(CONTENT_NAME), size), resized(load_sample(style_name), size)


# ---------------------------------------------------------------- worker (own process)


def work(job: dict) -> dict:
    """One quality-mode run; keeps the full-size preview every ``every`` steps."""
    from napari_styletransfer import iter_stylize

    content, style = inputs(job["style"], job["size"])
    runner = iter_stylize(
        content,
        style,
        method="quality",
        max_size=job["size"],
        steps=job["steps"],
        device="cpu",
        init=job["init"],
        preview_every=job["every"],
    )
    steps, times, images, busy = record_pictures(
        runner,
        lambda r: r.stage != "fast start" and (r.preview is not None or r.done),
    )
    np.savez_compressed(job["out"], *[np.asarray(i, dtype=np.uint8) for i in images])
    return {"steps": steps, "times": times, "seconds": busy}


def fast_picture(style_name: str, size: int) -> np.ndarray:
    """Fast mode's picture on its own (what ``init="fast"`` starts from)."""
    from napari_styletransfer import stylize

    content, style = inputs(style_name, size)
    return stylize(content, style, method="fast", max_size=size, device="cpu")


# ---------------------------------------------------------------- measuring


def measure(job: dict, ruler: Yardstick, folder: Path) -> dict:
    """Run one worker and add the yardstick of each kept picture."""
    job = {**job, "out": str(folder / f"{job['style']}-{job['init']}.npz")}
    print(f"{job['style']}, init={job['init']}: {job['steps']} steps …", flush=True)
    run = {**job, **run_worker(HERE, job)}
    with np.load(job["out"]) as kept:
        images = [kept[f"arr_{i}"] for i in range(len(kept.files))]
    run["distances"] = [ruler(i) for i in images]
    run["final"] = images[-1]
    return run


def steps_to_match(run: dict, style_goal: float, content_goal: float) -> int | None:
    """First kept step with style ≤ goal and content ≤ goal × slack (None if never)."""
    for step, (style, content) in zip(run["steps"], run["distances"], strict=True):
        if style <= style_goal and content <= content_goal:
            return step
    return None


def compare(style_name: str, args, folder: Path) -> dict:
    """Both runs for one painting, plus the fast picture alone."""
    content, style = inputs(style_name, args.size)
    ruler = Yardstick(content, style, args.size)
    base = {"style": style_name, "size": args.size, "steps": args.steps, "every": args.every}
    runs = {init: measure({**base, "init": init}, ruler, folder) for init in ("content", "fast")}
    style_goal, content_goal = runs["content"]["distances"][-1]
    # both runs are held to the same goal: with the content slack the photo-started
    # run itself may get there before its last step
    goals = {"match": content_goal * CONTENT_SLACK, "style_match": float("inf")}
    found = {
        key: {init: steps_to_match(run, style_goal, limit) for init, run in runs.items()}
        for key, limit in goals.items()
    }
    return {
        "style": style_name,
        "runs": runs,
        **found,
        "fast_alone": ruler(fast_picture(style_name, args.size)),
    }


# ---------------------------------------------------------------- report


def summary_table(results: list[dict]) -> str:
    """One row per painting and start (the fast picture alone first)."""
    header = [
        "painting", "start", "steps", "wall time (s)", "final style dist.",
        "final content dist.", "steps to photo-start's final quality (content +10 %)",
        "steps to its final style dist. alone",
    ]  # fmt: skip
    rows = []
    for result in results:
        style_alone, content_alone = result["fast_alone"]
        rows.append(
            [result["style"], "fast picture alone (no optimisation)", 0, "—",
             f"{style_alone:.3f}", f"{content_alone:.3f}", "—", "—"]
        )  # fmt: skip
        for init, run in result["runs"].items():
            style, content = run["distances"][-1]
            rows.append(
                [result["style"], f"init={init}", run["steps"][-1], f"{run['seconds']:.1f}",
                 f"{style:.3f}", f"{content:.3f}", match_text(result["match"], init),
                 match_text(result["style_match"], init)]
            )  # fmt: skip
    return markdown_table(header, rows)


def match_text(matches: dict, init: str) -> str:
    """The step at which a run reaches the goal; for the fast start "N fewer steps (X %)"."""
    step, reference = matches[init], matches["content"]
    if step is None:
        return "not reached"
    if init == "content" or reference is None:
        return str(step)
    fewer = reference - step
    return f"{step}: {fewer} fewer steps ({100 * fewer / reference:.0f} %)"


def curve_table(results: list[dict]) -> str:
    """Distances at every kept step of every run."""
    rows = []
    for result in results:
        for init, run in result["runs"].items():
            for step, seconds, (style, content) in zip(
                run["steps"], run["times"], run["distances"], strict=True
            ):
                rows.append([result["style"], init, step, f"{seconds:.1f}", f"{style:.3f}",
                             f"{content:.3f}"])  # fmt: skip
    header = ["painting", "init", "step", "time (s)", "style dist.", "content dist."]
    return markdown_table(header, rows)


def save_pairs(results: list[dict], folder: Path) -> list[Path]:
    """content-start | fast-start final pictures side by side, one PNG per painting."""
    paths = []
    for result in results:
        pictures = [result["runs"][init]["final"] for init in ("content", "fast")]
        path = folder / f"bench_refine_{result['style']}.png"
        Image.fromarray(np.concatenate(pictures, axis=1)).save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384, help="longer side in pixels")
    parser.add_argument("--steps", type=int, default=100, help="step budget of both runs")
    parser.add_argument("--every", type=int, default=5, help="keep a preview every N steps")
    parser.add_argument("--images", type=Path, default=Path("/tmp"), help="where PNGs go")
    parser.add_argument("--smoke", action="store_true", help="tiny size and steps, one painting")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(work(json.loads(args.worker))))
        return 0
    styles = STYLE_NAMES
    if args.smoke:
        args.size, args.steps, args.every, styles = 64, 4, 2, STYLE_NAMES[:1]
    command = "python benchmarks/bench_refine.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    with tempfile.TemporaryDirectory() as folder:
        results = [compare(name, args, Path(folder)) for name in styles]
    args.images.mkdir(parents=True, exist_ok=True)
    pairs = save_pairs(results, args.images)
    print(f"\nCommand: `{command.strip()}`\n")
    print(summary_table(results))
    print("\n" + curve_table(results))
    print("\nFinal pictures (init=content | init=fast): " + ", ".join(map(str, pairs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
