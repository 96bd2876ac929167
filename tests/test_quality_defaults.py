"""Quality-mode defaults and the optimiser safeguards behind them (benchmarks.md, quality suite)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_styletransfer.quality.optimise import Restarts, _one_step, make_optimizer
from napari_styletransfer.quality.pyramid import level_count, plan_levels
from napari_styletransfer.quality.settings import QualitySettings, default_steps


@pytest.mark.parametrize("side", [256, 384, 512, 768, 1024])
def test_default_steps_leave_about_twenty_at_full_size(side):
    plan = plan_levels((side, side), default_steps(side))
    assert 18 <= plan[-1].steps <= 22
    assert len(plan) == level_count((side, side))


def test_widget_presets_use_the_engine_defaults():
    from napari_styletransfer.widgets.form import QUALITY_PRESETS

    for size, steps in QUALITY_PRESETS.values():
        assert steps == default_steps(size)


def quadratic(target: torch.Tensor, scale: float = 1e6):
    """A smooth objective with the call convention of quality.Objective."""

    def objective(image):
        total = scale * (image - target).square().sum()
        return total, {"total": float(total.detach())}

    return objective


def test_first_lbfgs_step_moves_pixels_by_about_one_grey_level():
    target = torch.full((1, 3, 16, 16), 0.8)
    image = torch.zeros(1, 3, 16, 16, requires_grad=True)
    settings = QualitySettings()
    optimizer = make_optimizer(image, settings)
    _one_step(optimizer, quadratic(target), image, settings)
    change = image.detach().abs().mean().item()
    assert change == pytest.approx(1 / 255, rel=0.05)
    assert optimizer.param_groups[0]["lr"] == settings.step_size()
    # later steps are plain L-BFGS steps: on a quadratic they reach the minimum
    for _ in range(3):
        _one_step(optimizer, quadratic(target), image, settings)
    assert torch.allclose(image.detach(), target, atol=1e-3)


def test_restarts_undo_a_blow_up_and_restart_a_frozen_step():
    guard = Restarts()
    start = torch.zeros(1, 3, 4, 4)
    image = start.clone() + 0.1
    assert not guard.must_restart(100.0, start.clone(), image)  # an ordinary step
    blown = torch.full_like(start, 1e6)
    assert guard.must_restart(1e30, image.clone(), blown)
    assert torch.equal(blown, start)  # the best image seen is back
    assert guard.must_restart(float("nan"), start.clone(), image)
    frozen = torch.ones_like(start)
    assert guard.must_restart(50.0, frozen.clone(), frozen)  # the step changed nothing


def test_style_layers_count_relative_to_their_targets():
    from napari_styletransfer.core.vgg import load_vgg19
    from napari_styletransfer.quality.optimise import Objective

    rng = np.random.default_rng(0)
    content = torch.from_numpy(rng.random((1, 3, 32, 32), dtype=np.float32))
    style = torch.from_numpy(rng.random((1, 3, 32, 32), dtype=np.float32))
    settings = QualitySettings(precision="fp32")
    vgg = load_vgg19(torch.device("cpu"), "max")
    cpu = torch.device("cpu")
    objective = Objective(vgg, content, [style], [1.0], None, (), settings, 1.0, cpu)
    for name, target in objective.style_targets.items():
        # a picture with no texture at all (a zero Gram) costs exactly 1 per layer
        assert objective.layer_weights[name] * target.square().mean().item() == pytest.approx(1.0)
