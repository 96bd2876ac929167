"""The training loop: :func:`iter_learn_style` (a generator of progress reports).

One step: a batch of random photo crops goes through the transformer, the
perceptual loss (:mod:`.loss`) compares the result with the photos (content)
and the painting (style), and Adam updates what is trained (:mod:`.models`).
Every ``checkpoint_every`` steps, and whenever the run is stopped or
cancelled, a checkpoint is written (atomically) with everything needed to go
on exactly where it stopped: the trained parameters, Adam's state, the
gradient scaler, the random generators and the step count. The learned style
is written only when the run completes, under a temporary name first.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...core.progress import Progress
from ...devices import (
    autocast_for,
    describe_device,
    out_of_memory_as_error,
    resolve_device,
    training_precision,
)
from ...errors import StyleTransferError
from ..cache import array_key
from ..folders import cache_root
from ..learned import LearnedStyle, check_name, save_learned, style_path, thumbnail_of
from ..tiling import round_up
from .logs import TrainingLog
from .loss import PerceptualLoss
from .models import StyleModel, build_model
from .photos import CropSampler, PhotoSet, default_photo_set, load_photos
from .settings import LearnSettings

CHECKPOINT_FORMAT = "napari-styletransfer training checkpoint"
CHECKPOINT_VERSION = 1
# crops used to rank the 26 presets for the "nearest" start
PROBE_CROPS = 4
# consecutive steps with non-finite gradients before the run gives up
MAX_SKIPPED_STEPS = 20


@dataclass
class TrainingReport(Progress):
    """A :class:`Progress` report of a training run, with what was written.

    Attributes
    ----------
    seconds_left : float or None
        Estimated from this session's speed.
    checkpoint : Path or None
        The checkpoint, on reports after one was written.
    saved : Path or None
        The learned style, on the last report of a completed run.
    stopped : bool
        True on the last report of a run that was stopped early (resumable).
    """

    seconds_left: float | None = None
    checkpoint: Path | None = None
    saved: Path | None = None
    stopped: bool = False

    @property
    def eta(self) -> float | None:
        """Estimated seconds left."""
        return self.seconds_left


def training_dir(name: str) -> Path:
    """Checkpoint and default log folder of the style ``name`` (in the user's cache)."""
    return cache_root() / "training" / check_name(name)


def checkpoint_path(name: str) -> Path:
    """Where the resumable checkpoint of ``name`` is kept."""
    return training_dir(name) / "checkpoint.pt"


def iter_learn_style(
    painting,
    name: str,
    *,
    settings: LearnSettings | None = None,
    photos: str | Path | PhotoSet | None = None,
    device: str | torch.device = "auto",
    logdir: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    preview: np.ndarray | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Generator[TrainingReport, None, Path | None]:
    """Learn a fast style from a painting, reporting after every step.

    Parameters
    ----------
    painting : array, str or Path
        The painting: an image array, an image file or a bundled painting's name.
    name : str
        Name of the learned style (``learned:NAME`` afterwards).
    settings : LearnSettings, optional
        Defaults: a preset of the default network, 500 steps at 256 px.
    photos : folder, PhotoSet or None
        Photos to train on; None builds / uses the default set.
    device : str or torch.device
        "auto", "cpu", "cuda", …
    logdir : str or Path, optional
        TensorBoard + CSV folder (default: beside the checkpoint).
    overwrite : bool
        Replace an existing learned style of that name.
    resume : bool
        Continue from this name's checkpoint (its settings are kept; only
        ``settings.steps`` is taken from this call, as the new total).
    preview : numpy.ndarray, optional
        The validation photo shown every ``preview_every`` steps (float RGB
        or uint8; default: the bundled astronaut, which no training set holds).
    should_stop : callable, optional
        Checked after every step; when it returns True the run writes a
        checkpoint and stops (the last report has ``stopped=True``).
        Closing the generator does the same.

    Returns
    -------
    Path or None
        The learned style's file, or None when the run was stopped.

    Raises
    ------
    StyleTransferError
        For bad input: an unreadable painting, a folder without images, a bad
        name, an existing style without ``overwrite``, no checkpoint to resume.
    """
    run = _Run.prepare(
        painting, name, settings or LearnSettings(), photos, device, logdir, overwrite, resume
    )
    with out_of_memory_as_error(run.device):
        result = yield from run.train(_preview_image(preview), should_stop or (lambda: False))
    return result


def learn_style(painting, name: str, **kwargs) -> Path:
    """Run :func:`iter_learn_style` to the end; returns the learned style's file."""
    runner = iter_learn_style(painting, name, **kwargs)
    while True:
        try:
            next(runner)
        except StopIteration as stop:
            if stop.value is None:
                raise StyleTransferError("The training was stopped before it finished.") from None
            return stop.value


def _painting_rgb(painting) -> tuple[np.ndarray, str]:
    """The painting as float RGB, and how to name it in the learned style's metadata."""
    from ...core.arrays import to_float_rgb

    if isinstance(painting, str | Path):
        from ...image_io import read_image
        from ...samples import SAMPLES, load_sample

        key = str(painting).strip().lower()
        image = load_sample(key) if key in SAMPLES else read_image(Path(painting).expanduser())
        return to_float_rgb(image, "painting")[0], Path(str(painting)).name
    return to_float_rgb(painting, "painting")[0], "array"


def _preview_image(preview) -> np.ndarray:
    from ...core.arrays import to_float_rgb

    if preview is None:
        from ...samples import load_sample

        preview = load_sample("astronaut")
    return to_float_rgb(preview, "preview")[0]


class _Run:
    """One training run's state (everything :func:`iter_learn_style` needs)."""

    @classmethod
    def prepare(cls, painting, name, settings, photos, device, logdir, overwrite, resume):
        run = cls()
        run.name = check_name(name)
        run.target = style_path(run.name)
        if run.target.exists() and not overwrite:
            raise StyleTransferError(
                f"A learned style named {run.name!r} already exists ({run.target}): "
                "choose another name or pass --overwrite / overwrite=True."
            )
        run.painting, run.painting_label = _painting_rgb(painting)
        run.painting_key = array_key(run.painting)[2]
        run.device = resolve_device(device)
        run.checkpoint_file = checkpoint_path(run.name)
        run.saved_state = None
        run.skipped = 0
        if resume:
            run.saved_state = run._read_checkpoint(settings)
            saved = run.saved_state["settings"]
            settings = LearnSettings(**{**saved, "steps": settings.steps or saved["steps"]})
        run.settings = settings.resolved()
        run.precision = training_precision(run.device, run.settings.precision)
        run.photos = run._photos(photos)
        run.logdir = Path(logdir) if logdir else training_dir(run.name) / "logs"
        return run

    def _photos(self, photos) -> PhotoSet:
        s = self.settings
        if isinstance(photos, PhotoSet):
            return photos
        if photos is None:
            return default_photo_set(work_size=s.work_size, crop=s.size)
        return load_photos(photos, work_size=s.work_size, crop=s.size)

    def _read_checkpoint(self, settings: LearnSettings) -> dict:
        if not self.checkpoint_file.is_file():
            raise StyleTransferError(
                f"There is no checkpoint to resume for {self.name!r} ({self.checkpoint_file})."
            )
        try:
            state = torch.load(self.checkpoint_file, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many kinds for a damaged file
            raise StyleTransferError(
                f"The checkpoint {self.checkpoint_file} cannot be read: {error}"
            ) from error
        if state.get("format") != CHECKPOINT_FORMAT or state.get("version") != CHECKPOINT_VERSION:
            raise StyleTransferError(f"{self.checkpoint_file} is not a checkpoint of this version.")
        if state["painting"] != self.painting_key:
            raise StyleTransferError(
                f"The checkpoint of {self.name!r} was made with another painting: give the same "
                "painting to resume, or start again without --resume."
            )
        return state

    # ------------------------------------------------------------ setup

    def _build(self) -> tuple[StyleModel, PerceptualLoss]:
        s = self.settings
        loss = PerceptualLoss(
            self.painting,
            s.loss_settings(),
            work_size=s.work_size,
            device=self.device,
            precision=self.precision,
        )
        probe = None
        init = s.init
        if self.saved_state is not None and s.network == "multistyle":
            init = "mean"  # the checkpoint's parameters replace the start at once
        elif s.network == "multistyle" and init == "nearest":
            probe = CropSampler(self.photos, s.size, seed=s.seed + 1).batch(PROBE_CROPS)
        torch.manual_seed(s.seed)  # the same start whatever was loaded (and seeded) before
        model = build_model(
            s.network,
            init,
            self.device,
            painting=self.painting,
            style_score=loss.style_only,
            probe=probe,
        )
        return model, loss

    def _net_autocast(self):
        # the narrow transformers run slower in bf16 on CPUs without AMX: fp32 there
        if self.device.type == "cpu":
            return contextlib.nullcontext()
        return autocast_for(self.device, self.precision)

    # ------------------------------------------------------------ the loop

    def train(
        self, preview: np.ndarray, should_stop
    ) -> Generator[TrainingReport, None, Path | None]:
        s = self.settings
        torch.manual_seed(s.seed)
        model, loss = self._build()
        sampler = CropSampler(self.photos, s.size, seed=s.seed)
        trainable = [p for p in model.trainable.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(trainable, lr=s.learning_rate)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        step, previous_seconds, history = 0, 0.0, {}
        if self.saved_state is not None:
            state = self.saved_state
            model.trainable.load_state_dict(state["trainable"])
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            sampler.generator.set_state(state["crop_generator"])
            torch.set_rng_state(state["torch_rng"])
            step, previous_seconds = int(state["step"]), float(state["seconds"])
            history = dict(state["history"])
            model.start = dict(state["start"])
        log = TrainingLog(self.logdir, start_step=step)
        first_step, start = step, time.perf_counter()
        device_name = describe_device(self.device)
        checkpoint = None

        def seconds() -> float:
            return previous_seconds + time.perf_counter() - start

        def report(stage, losses, image=None, **extra) -> TrainingReport:
            done_here = step - first_step
            rate = (time.perf_counter() - start) / done_here if done_here else None
            return TrainingReport(
                step=step,
                total=s.steps,
                fraction=step / s.steps,
                elapsed=seconds(),
                device=device_name,
                stage=stage,
                losses=losses,
                preview=image,
                seconds_left=None if rate is None else rate * (s.steps - step),
                checkpoint=checkpoint,
                **extra,
            )

        def save_checkpoint() -> Path:
            return self._write_checkpoint(
                model, optimizer, scaler, sampler, step, seconds(), history
            )

        try:
            if step == 0:
                _, history["validation_start"] = self._preview(model, loss, preview)
            while step < s.steps:
                losses = self._step(model, loss, sampler, optimizer, scaler)
                step += 1
                history.setdefault("first", losses)
                image = None
                if s.preview_every and (step % s.preview_every == 0 or step == s.steps):
                    image, losses["validation"] = self._preview(model, loss, preview)
                history["last"] = losses
                if s.log_every and (step % s.log_every == 0 or image is not None):
                    log.losses(
                        step,
                        seconds(),
                        losses,
                        log.preview(step, image) if image is not None else "",
                    )
                if s.checkpoint_every and step % s.checkpoint_every == 0:
                    checkpoint = save_checkpoint()
                if should_stop() and step < s.steps:
                    checkpoint = save_checkpoint()
                    yield report("stopped", losses, image, stopped=True)
                    return None
                yield report(f"step {step}/{s.steps}", losses, image)
            checkpoint = save_checkpoint()
            final, history["validation_end"] = self._preview(model, loss, preview)
            saved = self._save_style(model, step, seconds(), history)
            losses = {**history.get("last", {}), "validation": history["validation_end"]}
            yield report("done", losses, final, result=final, saved=saved)
            return saved
        except GeneratorExit:
            # cancelled between steps (the consumer closed us): keep the work resumable
            self._write_checkpoint(model, optimizer, scaler, sampler, step, seconds(), history)
            raise
        finally:
            log.close()

    def _step(self, model, loss, sampler, optimizer, scaler) -> dict[str, float]:
        photos = sampler.batch(self.settings.batch_size).to(self.device)
        photos = photos.contiguous(memory_format=torch.channels_last)
        with self._net_autocast():
            output = model(photos)
        total, parts = loss(output.float(), photos)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        if scaler.is_enabled() or self._gradients_finite(optimizer):
            scaler.step(optimizer)  # the scaler itself skips steps with inf/NaN gradients
            self.skipped = 0
        else:
            self.skipped += 1  # e.g. a flat crop: instance norm's gradient overflows; skip it
        scaler.update()
        if self.skipped > MAX_SKIPPED_STEPS:
            raise StyleTransferError(
                "The training diverged (gradients are not finite): try a lower learning rate."
            )
        values = {k: float(v.detach()) for k, v in parts.items()}
        values["total"] = float(total.detach())
        return values

    @staticmethod
    def _gradients_finite(optimizer) -> bool:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        return bool(torch.stack([torch.isfinite(g).all() for g in grads if g is not None]).all())

    @torch.no_grad()
    def _preview(
        self, model: StyleModel, loss: PerceptualLoss, photo: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """The validation photo stylised at the working size, and its loss."""
        from ...core.arrays import fit_size, resize_array

        photo = resize_array(photo, fit_size(*photo.shape[:2], self.settings.work_size))
        height, width = photo.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None].to(self.device)
        x = F.pad(x, (0, round_up(width) - width, 0, round_up(height) - height), mode="reflect")
        with self._net_autocast():
            out = model(x.contiguous(memory_format=torch.channels_last))
        out = out.float()[..., :height, :width]
        total, _ = loss(out, x[..., :height, :width].contiguous())
        image = out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        return image, float(total)

    # ------------------------------------------------------------ files

    def _write_checkpoint(self, model, optimizer, scaler, sampler, step, seconds, history) -> Path:
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "name": self.name,
            "network": self.settings.network,
            "settings": self.settings.as_dict(),
            "painting": self.painting_key,
            "step": step,
            "seconds": seconds,
            "history": history,
            "start": _plain(model.start),
            "trainable": model.trainable.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "crop_generator": sampler.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        path = self.checkpoint_file
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".checkpoint.", suffix=".part", dir=path.parent)
        os.close(handle)
        try:
            torch.save(state, temporary)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
        return path

    def _save_style(self, model: StyleModel, step: int, seconds: float, history: dict) -> Path:
        s = self.settings
        pairs = [
            (g.detach().float().cpu().numpy(), b.detach().float().cpu().numpy())
            for g, b in model.pairs()
        ]
        meta = {
            "name": self.name,
            "painting": {
                "source": self.painting_label,
                "size": list(self.painting.shape[:2]),
                "digest": self.painting_key,
            },
            "settings": s.as_dict(),
            "start": _plain(model.start),
            "steps": step,
            "training_seconds": round(seconds, 1),
            "losses": {
                "first_step": history.get("first", {}),
                "last_step": history.get("last", {}),
                "validation_start": history.get("validation_start"),
                "validation_end": history.get("validation_end"),
            },
            "photos": self.photos.description,
            "device": describe_device(self.device),
            "precision": self.precision,
        }
        style = LearnedStyle(
            network=s.network,
            params=pairs,
            meta=meta,
            thumbnail=thumbnail_of(self.painting),
            weights=model.conv_weights(),
        )
        return save_learned(style, self.target, overwrite=True)


def _plain(start: dict) -> dict:
    """The start description without the (long) style vector."""
    return {k: v for k, v in start.items() if k != "style_vector"}
