"""Tile geometry and blending for large images.

:mod:`.streaming` runs the networks tile by tile with exact normalisation
statistics; this module only cuts the image into tiles and puts the pieces
back. Each tile has a *core* (the pixels it is responsible for; the cores
partition the image) and a *read* region: the core plus a context margin,
wider than the receptive field of the part of the network being run, so the
core's result does not depend on where the tile ends. Tile edges fall on
multiples of 4 so the networks' stride-4 grid lines up. Neighbouring outputs
overlap by :data:`FEATHER` pixels and are blended with linear ramps, which
hides rounding differences between tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .layers import SIZE_MULTIPLE

FEATHER = 16  # width of the blended overlap between neighbouring tiles


@dataclass(frozen=True)
class Tile:
    """One tile: the core it is responsible for and the region it reads.

    All coordinates are half-open pixel ranges ``[start, stop)`` in the
    (padded) image, multiples of 4 so the networks' stride-4 grid lines up.
    """

    core_y: tuple[int, int]
    core_x: tuple[int, int]
    read_y: tuple[int, int]
    read_x: tuple[int, int]


def round_up(value: int, multiple: int = SIZE_MULTIPLE) -> int:
    """Round ``value`` up to a multiple of ``multiple``."""
    return -(-value // multiple) * multiple


def plan_tiles(
    height: int, width: int, tile_size: int, *, reach: int, multiple: int = SIZE_MULTIPLE
) -> list[Tile]:
    """Cover a ``height`` × ``width`` image with tiles.

    Parameters
    ----------
    height, width : int
        Image size, multiples of ``multiple``.
    tile_size : int
        Core size (rounded up to a multiple of ``multiple``).
    reach : int
        How far the read region extends beyond the core (a multiple of ``multiple``).
    multiple : int
        Grid the tile edges fall on.
    """
    size = round_up(max(tile_size, multiple), multiple)
    tiles = []
    for y0 in range(0, height, size):
        for x0 in range(0, width, size):
            y1, x1 = min(y0 + size, height), min(x0 + size, width)
            tiles.append(
                Tile(
                    core_y=(y0, y1),
                    core_x=(x0, x1),
                    read_y=(max(0, y0 - reach), min(height, y1 + reach)),
                    read_x=(max(0, x0 - reach), min(width, x1 + reach)),
                )
            )
    return tiles


def _ramp(core: tuple[int, int], read: tuple[int, int], full: int) -> torch.Tensor:
    """Blend weights along one axis of a tile's read region.

    1 on the core, falling linearly to 0 over :data:`FEATHER` pixels beyond it
    (not at the image border, where no neighbour takes over), 0 on the margin.
    """
    positions = torch.arange(read[0], read[1], dtype=torch.float32) + 0.5
    weight = torch.ones_like(positions)
    if core[0] > 0:
        weight = torch.minimum(weight, (positions - (core[0] - FEATHER)) / FEATHER)
    if core[1] < full:
        weight = torch.minimum(weight, ((core[1] + FEATHER) - positions) / FEATHER)
    return weight.clamp(0.0, 1.0)


def tile_weight(tile: Tile, height: int, width: int, device: torch.device) -> torch.Tensor:
    """The 1×1×h×w blend weight of a tile's read region."""
    wy = _ramp(tile.core_y, tile.read_y, height)
    wx = _ramp(tile.core_x, tile.read_x, width)
    return (wy[:, None] * wx[None, :]).to(device)[None, None]


def crop(image: torch.Tensor, tile: Tile) -> torch.Tensor:
    """The part of an N×C×H×W image a tile reads."""
    return image[..., tile.read_y[0] : tile.read_y[1], tile.read_x[0] : tile.read_x[1]]


class TileBlender:
    """Accumulates weighted tile outputs into the full picture."""

    def __init__(self, height: int, width: int, device: torch.device):
        self.height, self.width, self.device = height, width, device
        self.total = torch.zeros(1, 3, height, width, device=device)
        self.weights = torch.zeros(1, 1, height, width, device=device)

    def add(self, tile: Tile, output: torch.Tensor) -> None:
        """Add one tile's output (the network's output for :func:`crop` of the tile)."""
        weight = tile_weight(tile, self.height, self.width, self.device)
        ys, xs = slice(*tile.read_y), slice(*tile.read_x)
        self.total[..., ys, xs] += output.float() * weight
        self.weights[..., ys, xs] += weight

    def result(self) -> torch.Tensor:
        """The blended 1×3×H×W picture."""
        return self.total / self.weights.clamp_min(1e-8)
