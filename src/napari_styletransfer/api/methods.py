"""The engines behind the facade: one adapter per method, looked up in :data:`METHODS`.

An adapter turns a prepared job into its engine's generator on the
working-size image (float32 RGB in [0, 1] in, the same out). Engines are
imported when a job runs, so that importing the API stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import numpy as np

from ..core.progress import Progress

if TYPE_CHECKING:
    from .facade import PreparedJob

Work = Generator[Progress, None, np.ndarray]


def run_fast(job: PreparedJob, strength: float | None = None) -> Work:
    """Fast mode: one pass of a feed-forward network (presets, or style images)."""
    from ..fast.run import iter_fast_stylize

    request = job.request
    if request.uses_learned:  # one learned style: the fast engine takes it as it was read
        styles = [request.styles[0].source]
    elif request.uses_presets:  # the fast engine blends several preset specs itself
        styles = [style.source.spec for style in request.styles]
    else:
        styles = list(job.styles)
    return iter_fast_stylize(
        job.work,
        styles,
        style_weights=request.style_weights,
        strength=request.style_strength if strength is None else strength,
        device=job.device,
        tile_size=request.tile_size,
    )


def run_quality(job: PreparedJob) -> Work:
    """Quality mode: the optimisation, started from the content, noise, an image or fast mode."""
    from ..quality.optimise import iter_optimise

    request = job.request
    init = job.init
    if isinstance(init, str) and init == "fast":
        init = yield from _fast_start(job)
    result = yield from iter_optimise(
        job.work,
        list(job.styles),
        blend=request.style_weights,
        settings=request.quality,
        steps=job.steps,
        strength=request.style_strength,
        device=job.device,
        seed=request.seed,
        init=init,
        region=job.region_work,
        targets=job.targets,
    )
    return result


def _fast_start(job: PreparedJob) -> Work:
    """Fast mode with the same style images at full strength: the start of "fast then refine"."""
    runner = run_fast(job, strength=1.0)
    while True:
        try:
            report = next(runner)
        except StopIteration as stop:
            return stop.value
        report.stage, report.step, report.fraction = "fast start", 0, 0.0
        yield report


#: The methods the facade offers: name → adapter.
METHODS: dict[str, Callable[[PreparedJob], Work]] = {"quality": run_quality, "fast": run_fast}
