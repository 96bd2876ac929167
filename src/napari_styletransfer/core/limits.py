"""Sizes and ranges that the API, the engines and every front end share."""

from __future__ import annotations

#: Shortest image side in pixels: VGG's four poolings and the fast networks'
#: strided convolutions need at least this much.
MIN_SIDE = 16
#: Largest ``max_size`` (longer working side) in pixels.
MAX_SIDE = 16384
#: Most optimisation steps one run may ask for.
MAX_STEPS = 100_000
#: Smallest tile of fast mode's tiled runs, in pixels.
MIN_TILE = 64
#: ``style_strength`` per method: quality multiplies the style weight (10 is
#: already extreme); the fast networks interpolate from the photo (0) to an
#: exaggerated style (2).
STRENGTH_RANGE = {"quality": (0.0, 10.0), "fast": (0.0, 2.0)}
#: ``style_scale``: style image size relative to the content.
STYLE_SCALE_RANGE = (0.05, 8.0)
#: Largest seed (seeds are unsigned 64-bit in torch).
MAX_SEED = 2**63 - 1
