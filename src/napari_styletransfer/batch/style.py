"""The style's features, computed once per batch and handed to every task.

In fast mode with style pictures, the network needs each painting's style
vector (Ghiasi et al.: a MobileNetV2 pass at 256 px). :func:`style_features`
runs as the batch's first task; its result (a few hundred floats) travels to
the workers as a dask future, and :func:`install_style_features` puts it into
the engine's per-process memo before a task runs, so no worker computes it
again. Presets need no features; quality mode's style Gram matrices depend on
each picture's pyramid sizes and are computed by the engine per picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StyleFeatures:
    """Style vectors by the engine's key of the style picture."""

    vectors: dict = field(default_factory=dict)


def style_features(request) -> StyleFeatures:
    """Compute what every task of ``request`` would otherwise compute itself.

    Parameters
    ----------
    request : StylizeRequest
    """
    images = [s.source for s in request.styles if isinstance(s.source, np.ndarray)]
    if request.method != "fast" or not images or _styles_follow_content(request):
        return StyleFeatures()
    from ..devices import resolve_device
    from ..fast.cache import array_key
    from ..fast.run import style_vector

    device = resolve_device(request.device)
    return StyleFeatures(
        {array_key(image): style_vector(image, device).cpu().numpy() for image in images}
    )


def _styles_follow_content(request) -> bool:
    # colours matched to each picture first: every task has its own style pictures
    return request.preserve_color and request.color_method == "histogram"


def install_style_features(features: StyleFeatures, device_name: str = "auto") -> None:
    """Put precomputed style vectors where the engine looks first (this process only)."""
    if not features.vectors:
        return
    import torch

    from ..devices import resolve_device
    from ..fast import cache

    device = resolve_device(device_name)
    for key, vector in features.vectors.items():
        if cache.style_vectors.get((key, str(device))) is None:
            cache.style_vectors.put((key, str(device)), torch.from_numpy(vector).to(device))
