"""``napari-styletransfer stylize clip.mp4 --style … -o out.mp4``: the video branch of ``stylize``.

Frames are decoded, stylised and encoded one at a time (memory stays flat);
the output keeps the frame count, the frame rate and the size. Ctrl-C stops
and leaves the frames done so far in a playable ``NAME.partial.EXT``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import StyleTransferError
from ..video.formats import FRAME_SUFFIXES, VIDEO_SUFFIXES

IMAGE_SUFFIXES = (*FRAME_SUFFIXES, ".bmp", ".webp")


def is_video_job(content: str, output: str) -> bool:
    """True when ``stylize`` should treat its input as a video (file or folder of frames).

    A GIF written to an image file is an image (its first frame), as before.
    """
    source, target = Path(content), Path(output)
    if source.is_dir():
        return True
    suffix = source.suffix.lower()
    if suffix == ".gif" and target.suffix.lower() in IMAGE_SUFFIXES:
        return False
    return suffix in VIDEO_SUFFIXES


def add_video_options(parser: argparse.ArgumentParser) -> None:
    """Options that only videos use."""
    parser.add_argument(
        "--fps",
        type=float,
        help="frame rate of a folder of frames (default 25; videos keep theirs)",
    )


def run_video(args: argparse.Namespace) -> int:
    """Stylise a video file or a folder of frames into a video file or folder."""
    from ..api.frames import iter_run_frames
    from ..video import VideoWriter, open_video
    from ..video.writer import check_output

    if Path(args.output).suffix.lower() in IMAGE_SUFFIXES:
        raise StyleTransferError(
            f"{args.content} is a video: give a video output ({', '.join(VIDEO_SUFFIXES)}) "
            "or a folder name for its frames."
        )
    check_output(args.output, overwrite=args.overwrite, inputs=[args.content])
    from .options import request_from_args

    request = request_from_args(args)
    reader = open_video(args.content, fps=args.fps)
    writer = VideoWriter(args.output, reader.fps, overwrite=args.overwrite)
    start = time.perf_counter()
    reports = iter_run_frames(request, reader.iter_frames(), count=len(reader))
    line = FrameLine(request.method, enabled=not args.json)
    try:
        with writer:
            for report in reports:
                if report.frame_result is not None:
                    writer.write(report.frame_result)
                    line.frame_done(report)
    except KeyboardInterrupt:
        reports.close()
        line.finish()
        kept = (
            f"; the {writer.frames_written} frames done are in {writer.written}"
            if writer.written
            else ""
        )
        print(f"napari-styletransfer: interrupted{kept}", file=sys.stderr)
        return 130
    finally:
        reader.close()
    line.finish()
    if args.json:
        seconds = time.perf_counter() - start
        info = reader.info
        print(
            json.dumps(
                {
                    "output": str(Path(writer.written).resolve()),
                    "frames": writer.frames_written,
                    "fps": info.fps,
                    "width": info.width,
                    "height": info.height,
                    "method": request.method,
                    "temporal": request.temporal,
                    "seconds": round(seconds, 3),
                    "frames_per_second": round(writer.frames_written / seconds, 3),
                }
            )
        )
    return 0


class FrameLine:
    """One progress line per finished frame on stderr, with the time left.

    On a terminal the line is rewritten in place; elsewhere (logs) one line is
    printed per frame.
    """

    def __init__(self, method: str, enabled: bool = True) -> None:
        self.method, self.enabled = method, enabled
        self.tty = sys.stderr.isatty()
        self.start = self.first_done = time.perf_counter()
        self.warned = False

    def frame_done(self, report) -> None:
        """Report that ``report.frame`` is finished."""
        if not self.enabled:
            return
        done = report.frame + 1
        now = time.perf_counter()
        if done == 1:  # the first frame also loads the networks: not a rate to go by
            self.first_done = now
            per_frame = now - self.start
        else:
            per_frame = (now - self.first_done) / (done - 1)
        text = f"frame {done}"
        if report.frame_count:
            left = per_frame * (report.frame_count - done)
            text += f"/{report.frame_count}  {per_frame:.2f} s/frame  about {duration(left)} left"
        if self.method == "quality" and "cpu" in report.device.lower() and not self.warned:
            self.warned = True
            print(
                "note: quality mode optimises every frame; on a CPU that is slow "
                "(--method fast runs in real time)",
                file=sys.stderr,
            )
        end = "\r" if self.tty else "\n"
        print(f"{text:<60}", end=end, file=sys.stderr, flush=True)

    def finish(self) -> None:
        """End the rewritten line on a terminal."""
        if self.enabled and self.tty:
            print(file=sys.stderr)


def duration(seconds: float) -> str:
    """A short human duration: '45 s', '3 min 20 s', '2 h 05 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
