"""Video files in and out: round trips, streaming, bad input, partial files."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from napari_styletransfer import StyleTransferError
from napari_styletransfer.video import Cancelled, VideoWriter, check_output, open_video
from napari_styletransfer.video.reader import natural_key


def moving_frames(count: int, height: int = 48, width: int = 64):
    """Smooth colour ramps that move a little each frame (easy to encode, easy to compare)."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    for t in range(count):
        red = 128 + 100 * np.sin((xx + 2 * t) / 9)
        green = 128 + 100 * np.cos((yy - t) / 7)
        blue = 128 + 60 * np.sin((xx + yy + 3 * t) / 13)
        yield np.dstack([red, green, blue]).astype(np.uint8)


def write(path, count=12, fps=25, **shape):
    with VideoWriter(path, fps) as writer:
        for frame in moving_frames(count, **shape):
            writer.write(frame)
    return writer.written


def independent_count(path) -> tuple[int, Fraction]:
    """Frame count and rate as PyAV itself decodes them (not through our reader)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for _ in container.decode(stream)), stream.average_rate


CONTAINERS = [
    ("clip.mp4", 24, 8.0),
    ("clip.avi", 30000 / 1001, 8.0),
    ("clip.gif", 25, 8.0),
    ("clip.webm", 30, 8.0),
    ("clip.mov", 25, 8.0),
    ("clip.mkv", 12, 8.0),
]


@pytest.mark.parametrize(("name", "fps", "tolerance"), CONTAINERS)
def test_round_trip_keeps_count_rate_and_size(tmp_path, name, fps, tolerance):
    path = write(tmp_path / name, count=12, fps=fps)
    assert path == tmp_path / name
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left
    with open_video(path) as reader:
        assert reader.info.frame_count == len(reader) == 12
        assert reader.info.fps == pytest.approx(fps, rel=1e-6)
        assert reader.info.shape == (12, 48, 64, 3)
        frames = list(reader.iter_frames())
    count, rate = independent_count(path)
    assert count == 12 and float(rate) == pytest.approx(fps, rel=1e-6)
    for got, want in zip(frames, moving_frames(12), strict=True):
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).mean() < tolerance


def test_odd_frame_size_is_kept_in_mp4(tmp_path):
    path = write(tmp_path / "odd.mp4", count=3, height=33, width=47)
    assert open_video(path).info.shape == (3, 33, 47, 3)


def test_folder_of_frames_round_trip_and_natural_order(tmp_path):
    path = write(tmp_path / "frames", count=11)
    names = sorted(p.name for p in path.iterdir())
    assert len(names) == 11 and names[0] == "frame_000001.png"
    for number, frame in enumerate(moving_frames(3)):  # named so that plain sorting is wrong
        Image.fromarray(frame).save(tmp_path / f"f{number * 5}.png")
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("f0.png", "f5.png", "f10.png"):
        (tmp_path / name).rename(folder / name)
    with open_video(folder, fps=12) as reader:
        assert reader.fps == 12 and len(reader) == 3
        np.testing.assert_array_equal(reader[2], list(moving_frames(3))[2])
    with open_video(path) as reader:
        np.testing.assert_array_equal(reader[10], list(moving_frames(11))[10])
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_uint16_frames_go_to_a_folder_as_tiff_unchanged(tmp_path):
    frames = [np.full((20, 24), 1000 * (t + 1), np.uint16) for t in range(3)]
    with VideoWriter(tmp_path / "stack", fps=5) as writer:
        for frame in frames:
            writer.write(frame)
    reader = open_video(tmp_path / "stack")
    assert reader.info.dtype == np.uint16 and reader.info.frame_shape == (20, 24)
    np.testing.assert_array_equal(reader[2], frames[2])


def test_random_access_matches_sequential_decoding(tmp_path):
    path = write(tmp_path / "seek.mp4", count=80, fps=10)  # keyframes every 20 frames
    reader = open_video(path)
    sequential = list(reader.iter_frames())
    for index in (70, 3, 4, 79, 0, 41, 40, -1):
        np.testing.assert_array_equal(reader[index], sequential[index])
    with pytest.raises(IndexError):
        reader[80]


def test_streaming_decodes_on_demand_and_keeps_memory_flat(tmp_path):
    path = write(tmp_path / "long.mp4", count=300, fps=25, height=64, width=96)
    frame_bytes = 64 * 96 * 3
    reader = open_video(path)
    assert reader.decoded == 1  # opening decodes frame 0 only (to prove it decodes)
    reader[150]
    assert reader.decoded <= 1 + 50  # from the keyframe before it (every 2 s = 50 frames)
    tracemalloc.start()
    for _ in reader.iter_frames():
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 30 * frame_bytes  # 300 frames would be 300 × frame_bytes


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(StyleTransferError, match="No such video"):
        open_video(tmp_path / "missing.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(StyleTransferError, match=r"Cannot read fake\.mp4"):
        open_video(fake)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StyleTransferError, match="no frames"):
        open_video(empty)
    sizes = tmp_path / "sizes"
    sizes.mkdir()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(sizes / "a1.png")
    Image.fromarray(np.zeros((20, 31, 3), np.uint8)).save(sizes / "a2.png")
    with pytest.raises(StyleTransferError, match="same size"):
        open_video(sizes)


def test_a_video_without_frames_is_refused(tmp_path):
    path = tmp_path / "zero.mkv"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    container.start_encoding()  # write the header, then no frame at all
    container.close()
    with pytest.raises(StyleTransferError, match="before its first frame"):
        open_video(path)


@pytest.mark.parametrize("name", ["cut.mp4", "cut.avi", "cut.webm", "cut.gif", "cut.mkv"])
def test_truncated_files_are_refused(tmp_path, name):
    path = write(tmp_path / name, count=40, fps=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(StyleTransferError, match=r"truncated|damaged|Cannot read"):
        with open_video(path) as reader:
            list(reader.iter_frames())


def test_variable_frame_size_is_refused_by_the_writer(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", fps=10)
    writer.write(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(StyleTransferError, match="same size"):
        writer.write(np.zeros((32, 34, 3), np.uint8))
    writer.abort(keep_partial=False)
    assert list(tmp_path.iterdir()) == []


def test_output_checks_happen_before_any_work(tmp_path):
    for name in ("out.xyz", "out.png", "out.mp3"):
        with pytest.raises(StyleTransferError, match="no encoder"):
            VideoWriter(tmp_path / name, fps=10)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"old")
    with pytest.raises(StyleTransferError, match="exists: choose"):
        check_output(existing)
    with pytest.raises(StyleTransferError, match="also an input"):
        check_output(existing, overwrite=True, inputs=[existing])
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.png").write_bytes(b"x")
    with pytest.raises(StyleTransferError, match="already holds"):
        VideoWriter(full, fps=10)
    with pytest.raises(StyleTransferError, match="fps"):
        VideoWriter(tmp_path / "out.mp4", fps=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4", "full"]
    assert existing.read_bytes() == b"old"


def test_overwrite_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.webm"
    target.write_bytes(b"old")
    writer = VideoWriter(target, fps=10, overwrite=True)
    writer.write(next(moving_frames(1)))
    assert target.read_bytes() == b"old"  # still the old file while writing
    writer.close()
    assert len(open_video(target)) == 1


@pytest.mark.parametrize("stop", [KeyboardInterrupt, Cancelled])
def test_interruption_leaves_a_playable_partial_file(tmp_path, stop):
    target = tmp_path / "out.mp4"

    def run():
        with VideoWriter(target, fps=10) as writer:
            for number, frame in enumerate(moving_frames(20)):
                if number == 5:
                    raise stop()
                writer.write(frame)
                assert not target.exists()
        return writer

    if stop is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            run()
    else:
        assert run().written == tmp_path / "out.partial.mp4"
    assert [p.name for p in tmp_path.iterdir()] == ["out.partial.mp4"]
    assert len(open_video(tmp_path / "out.partial.mp4")) == 5
    write(target, count=2)  # a later run: the old partial file stays, the new name is free
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "out.partial.mp4"]


def test_an_error_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "out.gif", fps=10) as writer:
            writer.write(next(moving_frames(1)))
            raise RuntimeError("the engine failed")
    assert list(tmp_path.iterdir()) == []
