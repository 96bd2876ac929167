"""Learning fast styles (fast/training/): training, learned-style files, resume, logs.

Tiny runs: 32 px crops of a few synthetic photos, a handful of steps.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from napari_styletransfer import load_sample, stylize
from napari_styletransfer.errors import StyleTransferError
from napari_styletransfer.fast import folders, learned, networks
from napari_styletransfer.fast.arbitrary import load_arbitrary
from napari_styletransfer.fast.training import LearnSettings, checkpoint_path, iter_learn_style
from napari_styletransfer.fast.training.models import build_model

TINY = {"size": 32, "work_size": 32, "batch_size": 1, "checkpoint_every": 0, "log_every": 1}


@pytest.fixture(autouse=True)
def user_folders(tmp_path, monkeypatch):
    """Learned styles and checkpoints go to a temporary data and cache folder."""
    monkeypatch.setenv(folders.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(folders.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Two structured 32×32 photos, plus files that are not images (skipped)."""
    folder = tmp_path_factory.mktemp("photos")
    yy, xx = np.mgrid[:32, :32]
    first = np.dstack([xx * 8, yy * 8, (xx ^ yy) * 8]).astype(np.uint8)
    second = np.dstack([(xx // 4 % 2) * 200, yy * 6, 255 - xx * 7]).astype(np.uint8)
    Image.fromarray(first).save(folder / "a.png")
    Image.fromarray(second).save(folder / "sub_b.jpg")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


@pytest.fixture(scope="module")
def preview():
    """The validation photo: the astronaut at 32 px (the working size of the tiny runs)."""
    from napari_styletransfer.core.arrays import resize_array, to_float_rgb

    return resize_array(to_float_rgb(load_sample("astronaut"))[0], (32, 32))


def run(name, photo_dir, preview, **options):
    """All reports of a tiny training run."""
    settings = LearnSettings(**{**TINY, **options.pop("settings", {})})
    runner = iter_learn_style(
        "kandinsky",
        name,
        settings=settings,
        photos=photo_dir,
        device="cpu",
        preview=preview,
        **options,
    )
    return list(runner)


# ---------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("network", "lr"), [("arbitrary", 0.05), ("multistyle", 0.05), ("johnson", 0.01)]
)
def test_a_few_steps_lower_the_loss(photo_dir, preview, network, lr):
    settings = {"steps": 12, "learning_rate": lr, "preview_every": 0, "network": network}
    if network == "johnson":
        settings |= {"from_scratch": True}
    reports = run(f"lower-{network}", photo_dir, preview, settings=settings)
    assert [r.step for r in reports] == [*range(1, 13), 12]
    # the loss on the validation photo (the same picture before and after training)
    losses = learned.load_learned(reports[-1].saved).meta["losses"]
    assert losses["validation_end"] < 0.95 * losses["validation_start"]


def test_preset_mode_trains_only_gamma_and_beta(photo_dir, preview):
    model = build_model("multistyle", "mean", torch.device("cpu"))
    trainable = {name for name, p in model.trainable.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("gammas.", "betas.")) for n in trainable)
    assert not any(p.requires_grad for p in model.transformer.parameters())

    shipped = networks.get_network("arbitrary", torch.device("cpu"))
    before = {k: v.clone() for k, v in shipped.state_dict().items()}
    reports = run("frozen", photo_dir, preview, settings={"steps": 3, "learning_rate": 0.05})
    style = learned.load_learned(reports[-1].saved)
    assert style.network == "arbitrary" and not style.weights  # only γ, β are stored
    fresh = load_arbitrary().state_dict()
    for key, value in shipped.state_dict().items():
        assert torch.equal(value, before[key]) and torch.equal(value, fresh[key]), key
    start = fresh_params_for_kandinsky()
    changed = [
        not np.array_equal(g, g0) for (g, _), (g0, _) in zip(style.params, start, strict=True)
    ]
    assert any(changed)


def fresh_params_for_kandinsky():
    """The (γ, β) the style predictor gives for the painting: where training starts."""
    from napari_styletransfer.core.arrays import to_float_rgb
    from napari_styletransfer.fast.run import style_vector

    painting = to_float_rgb(load_sample("kandinsky"))[0]
    with torch.no_grad():
        vector = style_vector(painting, torch.device("cpu")).clone()
        pairs = load_arbitrary().style_params(vector)
    return [(g.numpy(), b.numpy()) for g, b in pairs]


def test_round_trip_gives_the_same_output(photo_dir, preview):
    reports = run("round-trip", photo_dir, preview, settings={"steps": 2, "preview_every": 1})
    final = reports[-1]
    assert final.done and final.saved == learned.style_path("round-trip")
    by_name = stylize(preview, "learned:round-trip", method="fast", max_size=32, device="cpu")
    by_path = stylize(preview, str(final.saved), method="fast", max_size=32, device="cpu")
    np.testing.assert_allclose(by_name, final.result, atol=1e-5)
    np.testing.assert_array_equal(by_name, by_path)
    style = learned.load_learned(final.saved)
    copy = learned.save_learned(style, learned.style_path("copy"))
    again = learned.load_learned(copy)
    for (g, b), (g2, b2) in zip(style.params, again.params, strict=True):
        np.testing.assert_array_equal(g, g2)
        np.testing.assert_array_equal(b, b2)
    assert again.meta["painting"]["source"] == "kandinsky" and again.thumbnail.dtype == np.uint8
    assert final.saved.stat().st_size < 300_000


def test_resume_continues_the_step_count_and_logs(photo_dir, preview, tmp_path):
    logdir = tmp_path / "logs"
    asked = []

    def stop_after_two():
        asked.append(1)
        return len(asked) >= 2

    first = run(
        "resumed",
        photo_dir,
        preview,
        settings={"steps": 4, "preview_every": 2},
        logdir=logdir,
        should_stop=stop_after_two,
    )
    assert first[-1].stopped and first[-1].step == 2 and first[-1].saved is None
    assert not learned.style_path("resumed").exists()  # nothing under the final name
    assert checkpoint_path("resumed").is_file()
    second = run("resumed", photo_dir, preview, settings={"steps": 4}, logdir=logdir, resume=True)
    assert [r.step for r in second] == [3, 4, 4]
    assert second[-1].saved.is_file()
    rows = list(csv.DictReader(open(logdir / "losses.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert rows[1]["preview"] and (logdir / rows[1]["preview"]).is_file()

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir))
    events.Reload()
    assert "loss/total" in events.Tags()["scalars"] and "preview" in events.Tags()["images"]
    assert sorted({e.step for e in events.Scalars("loss/total")}) == [1, 2, 3, 4]


def test_closing_the_run_keeps_a_checkpoint_and_no_style(photo_dir, preview):
    runner = iter_learn_style(
        "kandinsky",
        "cancelled",
        settings=LearnSettings(**TINY, steps=50, preview_every=0),
        photos=photo_dir,
        device="cpu",
        preview=preview,
    )
    next(runner)
    runner.close()
    assert checkpoint_path("cancelled").is_file()
    assert not learned.style_path("cancelled").exists()
    assert not list(learned.styles_dir().glob("*.part"))


# ---------------------------------------------------------------- bad input


def test_bad_inputs_raise_one_clear_error(photo_dir, preview, tmp_path):
    fake = tmp_path / "painting.png"
    fake.write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.jpg").write_text("no")
    settings = LearnSettings(**TINY, steps=1)
    cases = [
        ({"painting": fake}, "Cannot read"),
        ({"photos": empty}, "No readable images"),
        ({"photos": tmp_path / "missing"}, "does not exist"),
        ({"name": "../evil"}, "not allowed"),
        ({"name": "a/b"}, "not allowed"),
        ({"resume": True, "name": "never-trained"}, "no checkpoint"),
    ]
    for change, message in cases:
        options = {"painting": "kandinsky", "name": "ok", "photos": photo_dir, **change}
        with pytest.raises(StyleTransferError, match=message):
            next(
                iter_learn_style(
                    options.pop("painting"),
                    options.pop("name"),
                    settings=settings,
                    device="cpu",
                    **options,
                )
            )


def test_existing_name_is_refused_unless_overwrite(photo_dir, preview):
    run("taken", photo_dir, preview, settings={"steps": 1, "preview_every": 0})
    with pytest.raises(StyleTransferError, match="already exists"):
        run("taken", photo_dir, preview, settings={"steps": 1})
    assert run("taken", photo_dir, preview, settings={"steps": 1}, overwrite=True)[-1].saved


def test_corrupt_or_foreign_files_are_refused(photo_dir, preview, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(StyleTransferError, match="not a readable learned style"):
        stylize(preview, str(corrupt), method="fast", device="cpu")
    saved = run("mine", photo_dir, preview, settings={"steps": 1, "preview_every": 0})[-1].saved
    style = learned.load_learned(saved)
    foreign = learned.LearnedStyle("multistyle", style.params, dict(style.meta))
    with pytest.raises(StyleTransferError, match="another network"):
        learned.save_learned(foreign, tmp_path / "foreign.npz")
    # a file edited by hand to name the other network
    with np.load(saved) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(bytes(arrays["meta"]))
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "network": "multistyle"}).encode(), np.uint8)
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(StyleTransferError, match="another network"):
        stylize(preview, str(tmp_path / "edited.npz"), method="fast", device="cpu")
    with pytest.raises(StyleTransferError, match="no learned style 'nobody'"):
        stylize(preview, "learned:nobody", method="fast", device="cpu")
    with pytest.raises(StyleTransferError, match="fast-mode networks"):
        stylize(preview, "learned:mine", method="quality", device="cpu")
    with pytest.raises(StyleTransferError, match="not allowed"):
        learned.import_learned(saved, name="../up")
    imported = learned.import_learned(saved, name="shared-copy")
    assert imported.parent == learned.styles_dir()
    assert stylize(preview, "learned:shared-copy", method="fast", device="cpu").shape == (32, 32, 3)


# ---------------------------------------------------------------- photos and devices


def test_default_set_is_read_from_its_manifest(monkeypatch):
    from napari_styletransfer.fast.training import photos

    folder = photos.default_photos_dir()
    (folder / "images").mkdir(parents=True)
    entries = []
    for i, role in enumerate(("train", "train", "held-out")):
        Image.fromarray(np.full((40, 48, 3), 60 * i, np.uint8)).save(folder / f"images/{i}.jpg")
        entries.append({"file": f"images/{i}.jpg", "package": "p", "source": f"s{i}", "role": role})
    (folder / photos.MANIFEST).write_text(json.dumps({"photos": entries}))
    monkeypatch.setattr(photos, "build_default_set", lambda folder: pytest.fail("rebuilt"))
    train = photos.default_photo_set(work_size=64, crop=32)
    held = photos.default_photo_set(work_size=64, crop=32, role="held-out")
    assert train.names == ["images/0.jpg", "images/1.jpg"] and held.names == ["images/2.jpg"]
    assert max(train.photos[0].shape[:2]) == 64


def test_building_the_default_set_offline_says_what_to_do(monkeypatch, tmp_path):
    import subprocess

    from napari_styletransfer.fast.training import photos
    from napari_styletransfer.samples import debian

    monkeypatch.setattr(photos.shutil, "which", lambda name: None)
    with pytest.raises(StyleTransferError, match="--photos DIR"):
        photos.build_default_set(tmp_path / "set")
    monkeypatch.setattr(photos.shutil, "which", lambda name: f"/usr/bin/{name}")

    def offline(*args, **kwargs):
        raise subprocess.CalledProcessError(100, ["apt-get", "download"])

    monkeypatch.setattr(debian, "fetch_packages", offline)
    with pytest.raises(StyleTransferError, match="apt-get download gcompris-qt-data"):
        photos.build_default_set(tmp_path / "set")
    assert not (tmp_path / "set" / photos.MANIFEST).exists()


def test_precision_on_cuda_uses_autocast_and_scales_fp16(monkeypatch):
    from napari_styletransfer.devices import resolve_precision, training_precision

    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert training_precision(cuda, "auto") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert training_precision(cuda, "auto") == "fp16"
    assert training_precision(cuda, "fp32") == "fp32"
    cpu = torch.device("cpu")
    assert training_precision(cpu, "auto") == resolve_precision(cpu, "auto")


def test_fp16_is_refused_on_the_cpu(photo_dir, preview):
    with pytest.raises(StyleTransferError, match="fp16"):
        run("fp16", photo_dir, preview, settings={"steps": 1, "precision": "fp16"})


def test_learned_styles_go_through_the_request(photo_dir, preview):
    from napari_styletransfer.api import StylizeRequest
    from napari_styletransfer.api import run as run_request

    run("req", photo_dir, preview, settings={"steps": 1, "preview_every": 0})
    request = StylizeRequest.create("learned:req", method="fast", max_size=32, device="cpu")
    assert request.uses_learned and request.params()["style"] == ["learned:req"]
    again = StylizeRequest.from_params(request.params())
    direct = stylize(preview, "learned:req", method="fast", max_size=32, device="cpu")
    np.testing.assert_array_equal(run_request(again, preview), direct)
    kept_colours = StylizeRequest.create(
        "learned:req", method="fast", preserve_color=True, color_method="histogram", device="cpu"
    )
    assert run_request(kept_colours, preview).shape == preview.shape
    with pytest.raises(StyleTransferError, match="cannot be blended"):
        StylizeRequest.create(["learned:req", "preset:1"], method="fast")
    with pytest.raises(StyleTransferError, match="fast-mode networks"):
        StylizeRequest.create("learned:req")


def test_training_loss_weighs_style_layers_as_quality_mode_does():
    from napari_styletransfer.core.arrays import to_float_rgb
    from napari_styletransfer.fast.training.loss import PerceptualLoss
    from napari_styletransfer.quality.settings import QualitySettings

    settings = LearnSettings().resolved().loss_settings()
    painting = to_float_rgb(load_sample("kandinsky"))[0]
    loss = PerceptualLoss(
        painting, settings, work_size=32, device=torch.device("cpu"), precision="fp32"
    )
    assert settings.style_weight == QualitySettings().style_weight
    for name, target in loss.style_targets.items():
        # a picture without texture (a zero Gram) costs exactly 1 per layer, as in quality mode
        assert loss.layer_weights[name] * target.square().mean().item() == pytest.approx(1.0)
