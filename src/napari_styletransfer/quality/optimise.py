"""Quality mode: Gatys et al. optimisation on VGG19, coarse to fine.

Works on float32 RGB arrays in [0, 1] at the working size; the public API
(:mod:`napari_styletransfer.api`) handles formats, masks and colours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.arrays import resize, to_numpy, to_tensor
from ..core.progress import Progress
from ..core.vgg import VGG19Features, load_vgg19
from ..devices import autocast_for, describe_device, resolve_precision
from .losses import (
    content_loss,
    gram,
    pixel_target_loss,
    relative_layer_weights,
    style_loss,
    total_variation,
)
from .pyramid import Level, plan_levels
from .settings import QualitySettings


@dataclass(frozen=True)
class PixelTarget:
    """Pixels to hold to a target image, each as strongly as its weight.

    Masks use it to keep the unstyled region like the content; videos use it
    to keep non-occluded pixels like the flow-warped previous frame.

    Attributes
    ----------
    name : str
        The loss term's name in progress reports, e.g. "keep" or "temporal".
    image : numpy.ndarray
        float32 H×W×3 in [0, 1] at the working size.
    weights : numpy.ndarray
        float32 H×W in [0, 1] at the working size.
    strength : float
        Weight of the term in the total loss.
    """

    name: str
    image: np.ndarray
    weights: np.ndarray
    strength: float

    def at(self, size: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(target, weights) as tensors at a pyramid level's size."""
        target = resize(to_tensor(self.image, device), size)
        weights = torch.from_numpy(np.ascontiguousarray(self.weights))[None, None].to(device)
        return target, resize(weights, size)


class Objective:
    """The loss to minimise at one pyramid level.

    Targets (content features, blended style Grams) are computed once, here.
    """

    def __init__(
        self,
        vgg: VGG19Features,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        blend: Sequence[float],
        region: torch.Tensor | None,
        targets: Sequence[tuple[PixelTarget, torch.Tensor, torch.Tensor]],
        settings: QualitySettings,
        strength: float,
        device: torch.device,
    ) -> None:
        self.vgg, self.settings, self.device = vgg, settings, device
        self.content, self.region, self.targets = content, region, targets
        self.precision = resolve_precision(device, settings.precision)
        self.style_weight = settings.style_weight * strength
        self.layers = tuple(dict.fromkeys((*settings.content_layers, *settings.style_layers)))
        with torch.no_grad():
            self.content_targets = self._content_targets(content)
            self.style_targets = self._style_targets(styles, blend)
        # raw Gram errors ignored the finest and coarsest texture (benchmarks.md, quality suite)
        self.layer_weights = relative_layer_weights(self.style_targets, settings.layer_weights())

    def _features(self, image: torch.Tensor, layers: Sequence[str]) -> dict:
        with autocast_for(self.device, self.precision):
            return self.vgg(image, layers)

    def _content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self._features(content, self.settings.content_layers)
        return {k: v.float() for k, v in feats.items()}

    def _style_targets(self, styles, blend) -> dict[str, torch.Tensor]:
        targets: dict[str, torch.Tensor] = {}
        for style, weight in zip(styles, blend, strict=True):
            feats = self._features(style, self.settings.style_layers)
            for name in self.settings.style_layers:
                targets[name] = targets.get(name, 0) + weight * gram(feats[name])
        return targets

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts for the current image (1×3×H×W, RGB in [0, 1])."""
        s = self.settings
        feats = self._features(image, self.layers)
        parts = {
            "content": s.content_weight * content_loss(feats, self.content_targets),
            "style": self.style_weight
            * style_loss(feats, self.style_targets, self.layer_weights, self.region),
            "tv": s.tv_weight * total_variation(image),
        }
        for target, image_target, weights in self.targets:
            parts[target.name] = target.strength * pixel_target_loss(image, image_target, weights)
        total = sum(parts.values())
        return total, {k: float(v.detach()) for k, v in parts.items()} | {
            "total": float(total.detach())
        }


def style_at_level(style: torch.Tensor, level: Level, scale: float) -> torch.Tensor:
    """Resize a style image so its longer side is ``scale`` × the level's longer side."""
    target = max(16, round(scale * max(level.size)))
    height, width = style.shape[-2:]
    factor = target / max(height, width)
    size = (max(16, round(height * factor)), max(16, round(width * factor)))
    return resize(style, size)


def make_optimizer(image: torch.Tensor, settings: QualitySettings) -> torch.optim.Optimizer:
    """L-BFGS doing one function evaluation per ``step()`` (so we can yield between steps)."""
    if settings.optimizer == "adam":
        return torch.optim.Adam([image], lr=settings.step_size())
    # tolerances off: the caller decides how many steps run, never a silent early stop
    return torch.optim.LBFGS(
        [image],
        lr=settings.step_size(),
        max_iter=1,
        history_size=50,
        tolerance_grad=-1.0,
        tolerance_change=-1.0,
    )


def initial_image(
    content: torch.Tensor, init: str | np.ndarray, seed: int, device: torch.device
) -> torch.Tensor:
    """The starting image at the first level: the content, seeded noise, or a given image."""
    if isinstance(init, np.ndarray):
        return resize(to_tensor(init, device), tuple(content.shape[-2:]))
    if init == "noise":
        generator = torch.Generator().manual_seed(seed)
        noise = torch.rand(content.shape, generator=generator)
        return noise.to(device)
    return content.clone()


def iter_optimise(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    *,
    blend: Sequence[float],
    settings: QualitySettings,
    steps: int,
    strength: float,
    device: torch.device,
    seed: int = 0,
    init: str | np.ndarray = "content",
    region: np.ndarray | None = None,
    targets: Sequence[PixelTarget] = (),
) -> Generator[Progress, None, np.ndarray]:
    """Optimise an image coarse to fine; yield a :class:`Progress` after every step.

    Parameters
    ----------
    content : numpy.ndarray
        float32 H×W×3 in [0, 1] at the working size.
    styles : sequence of numpy.ndarray
        float32 RGB style images in [0, 1], any size.
    blend : sequence of float
        Style blend weights (summing to 1).
    settings : QualitySettings
    steps : int
        Total optimisation steps over all levels.
    strength : float
        Multiplies the style weight.
    device : torch.device
    seed : int
        Seeds the noise init and torch's generator.
    init : {"content", "noise"} or numpy.ndarray
        The starting picture; an array is float32 H×W×3 in [0, 1], any size.
    region : numpy.ndarray, optional
        float32 H×W weights at the working size: 1 where the style goes. The
        Gram matrices are guided by it (Gatys et al. 2017).
    targets : sequence of PixelTarget
        Pixels held to target images (the unstyled region, the previous frame).

    Yields
    ------
    Progress
        ``preview`` (every ``settings.preview_every`` steps and at each level's
        end) is the current image, float32 at the level's size.

    Returns
    -------
    numpy.ndarray
        The result, float32 H×W×3 in [0, 1] at the working size.
    """
    torch.manual_seed(seed)
    start = time.perf_counter()
    device_name = describe_device(device)
    vgg = load_vgg19(device, settings.pooling)
    content_full = to_tensor(content, device)
    style_tensors = [to_tensor(s, device) for s in styles]
    region_full = None if region is None else torch.from_numpy(region)[None, None].to(device)
    plan = plan_levels(content.shape[:2], steps, settings.pyramid_levels)
    total_cost = sum(level.steps * level.pixels for level in plan)
    done_steps, done_cost, image = 0, 0.0, None
    for index, level in enumerate(plan):
        level_content = resize(content_full, level.size)
        level_region = None if region_full is None else resize(region_full, level.size)
        level_styles = [style_at_level(s, level, settings.style_scale) for s in style_tensors]
        level_targets = [(t, *t.at(level.size, device)) for t in targets]
        objective = Objective(
            vgg,
            level_content,
            level_styles,
            blend,
            level_region,
            level_targets,
            settings,
            strength,
            device,
        )
        if image is None:
            image = initial_image(level_content, init, seed, device)
        else:
            image = resize(image.detach(), level.size)
        image = image.detach().contiguous().requires_grad_(True)
        optimizer = make_optimizer(image, settings)
        stage = f"level {index + 1}/{len(plan)} at {level.size[1]}×{level.size[0]}"
        guard = Restarts()
        for step in range(level.steps):
            evaluated = image.detach().clone()
            losses = _one_step(optimizer, objective, image, settings)
            if guard.must_restart(losses["total"], evaluated, image):
                optimizer = make_optimizer(image, settings)
            done_steps += 1
            done_cost += level.pixels
            last = step == level.steps - 1
            every = settings.preview_every
            wants_preview = last or (every and done_steps % every == 0)
            yield Progress(
                step=done_steps,
                total=steps,
                fraction=done_cost / total_cost,
                elapsed=time.perf_counter() - start,
                device=device_name,
                stage=stage,
                losses=losses,
                preview=to_numpy(image) if wants_preview else None,
            )
    return to_numpy(image)


class Restarts:
    """Undo an optimiser step that blew up, and restart one that froze.

    Without a line search, L-BFGS's first step at a level is tiny (1/‖g‖₁) and
    under bf16 the curvature it measures is mostly rounding noise; the next
    step can then overshoot by orders of magnitude (loss × 1e24 measured at
    256 px, style_strength 4), after which the search direction points uphill,
    every later step is refused and the picture freezes. Here the best image
    seen at this level is restored and the optimiser starts afresh.
    """

    BLOW_UP = 10.0  # a loss this many times the best one so far means the step overshot

    def __init__(self) -> None:
        self.best, self.best_image = math.inf, None

    def must_restart(self, loss: float, evaluated: torch.Tensor, image: torch.Tensor) -> bool:
        """Whether to restart, given the loss at ``evaluated`` and the image after the step."""
        if self.best_image is None or (math.isfinite(loss) and loss <= self.BLOW_UP * self.best):
            if loss < self.best:
                self.best, self.best_image = loss, evaluated
            return torch.equal(evaluated, image.detach())  # the step was refused
        with torch.no_grad():
            image.copy_(self.best_image)
        return True


def _one_step(
    optimizer, objective: Objective, image: torch.Tensor, settings: QualitySettings
) -> dict:
    losses: dict[str, float] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, parts = objective(image)
        total.backward()
        losses.update(parts)
        return total

    group = optimizer.param_groups[0]
    if settings.optimizer == "lbfgs" and not optimizer.state:
        # L-BFGS's first step is lr/‖g‖₁ along -g: with lr 1 a change of 1/numel per
        # pixel, far below bf16's rounding, so the curvature it measures is noise and
        # the next step overshoots. A mean change of one grey level measures it well.
        group["lr"] = settings.step_size() * image.numel() / 255
    optimizer.step(closure)
    group["lr"] = settings.step_size()
    if settings.optimizer == "adam":
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
    return losses
