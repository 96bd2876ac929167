"""What a training run is asked to do: :class:`LearnSettings`, validated once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import StyleTransferError
from .models import INITS

DEFAULT_PRESET_NETWORK = "arbitrary"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class LearnSettings:
    """Settings of one learn-style run.

    Attributes
    ----------
    steps : int or None
        Optimisation steps in all (a resumed run continues to this count);
        default 300 for a preset, 40000 from scratch.
    size : int
        Side of the square training crops, in pixels.
    work_size : int
        Longer side the photos are resized to before cropping, and the size
        the painting's style is measured at (``stylize``'s ``max_size``).
    batch_size : int
        Crops per step.
    learning_rate : float or None
        Adam's step size (default 0.01 for norm parameters, 1e-3 from scratch).
    from_scratch : bool
        Train a whole Johnson network instead of a preset's norm parameters.
    network : str or None
        For a preset: "arbitrary" or "multistyle" (default
        :data:`DEFAULT_PRESET_NETWORK`). "johnson" when ``from_scratch``.
    init : str or None
        Where a preset starts: "predicted" (arbitrary), "nearest" or "mean"
        (multistyle).
    content_weight, style_weight, tv_weight : float or None
        Loss weights (when None: quality mode's, whose style loss the training
        loss also weighs layer by layer relative to the painting's Gram matrices).
    style_scale : float
        Painting size relative to ``work_size`` (bigger → bigger strokes).
    precision : {"auto", "fp32", "bf16", "fp16"}
        "auto": the VGG passes in bf16 where the CPU has bf16 instructions;
        on CUDA everything under autocast, bf16 where supported, else fp16
        with gradient scaling.
    seed : int
    log_every, preview_every, checkpoint_every : int
        Steps between log rows, previews and checkpoints (0: never, except
        the final checkpoint).
    """

    steps: int | None = None
    size: int = 256
    work_size: int = 512
    batch_size: int = 4
    learning_rate: float | None = None
    from_scratch: bool = False
    network: str | None = None
    init: str | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_scale: float = 1.0
    precision: str = "auto"
    seed: int = 0
    log_every: int = 10
    preview_every: int = 50
    checkpoint_every: int = 100

    def resolved(self) -> LearnSettings:
        """A copy with every default filled in, after validation."""
        network = self.network or ("johnson" if self.from_scratch else DEFAULT_PRESET_NETWORK)
        values = {
            "network": network,
            "init": self.init or INITS.get(network, ("",))[0],
            "steps": self.steps or (40000 if network == "johnson" else 300),
            "learning_rate": self.learning_rate or (1e-3 if network == "johnson" else 0.01),
        }
        settings = dataclasses.replace(self, **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`StyleTransferError` for a value that cannot work."""

        def fail(message: str) -> None:
            raise StyleTransferError(message)

        if self.network not in INITS:
            fail(f"Unknown network {self.network!r}: use 'arbitrary' or 'multistyle'.")
        if self.from_scratch != (self.network == "johnson"):
            fail("Training from scratch trains the Johnson network; presets use the others.")
        if self.init not in INITS[self.network]:
            fail(f"The {self.network} network starts from {' or '.join(INITS[self.network])}.")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 10_000_000):
            fail(f"steps must be a whole number ≥ 1, not {self.steps!r}.")
        if not 32 <= self.size <= 1024 or self.size % 4:
            fail(f"The crop size must be a multiple of 4 from 32 to 1024 px, not {self.size}.")
        if not self.size <= self.work_size <= 4096:
            fail(
                f"work_size must be from the crop size ({self.size}) to 4096, not {self.work_size}."
            )
        if not 1 <= self.batch_size <= 256:
            fail(f"batch_size must be from 1 to 256, not {self.batch_size}.")
        if not self.learning_rate > 0:
            fail("learning_rate must be > 0.")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                fail(f"{name} must be ≥ 0.")
        if not 0.05 <= self.style_scale <= 8:
            fail(f"style_scale must be between 0.05 and 8, not {self.style_scale}.")
        if self.precision not in PRECISIONS:
            fail(f"Unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}.")
        for name in ("log_every", "preview_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                fail(f"{name} must be ≥ 0.")

    def loss_settings(self):
        """Quality mode's :class:`~napari_styletransfer.quality.settings.QualitySettings` for the loss."""
        from ...quality.settings import QualitySettings

        weights = {
            name: getattr(self, name)
            for name in ("content_weight", "style_weight", "tv_weight")
            if getattr(self, name) is not None
        }
        return QualitySettings(**weights, style_scale=self.style_scale)

    def as_dict(self) -> dict:
        """JSON-able values (for metadata and checkpoints)."""
        return dataclasses.asdict(self)
