"""Video and time-lapse: streaming I/O, optical flow and temporal consistency.

Pure numpy + OpenCV + PyAV: no torch, Qt or napari here, and nothing from the
engines. The facade sequences frames with these tools; the engines stay
frame-agnostic (docs/video.md).
"""

from .formats import VIDEO_SUFFIXES, is_video_file
from .reader import FrameReader, VideoInfo, open_video, read_mask_stack
from .writer import Cancelled, VideoWriter, check_output

__all__ = [
    "VIDEO_SUFFIXES",
    "Cancelled",
    "FrameReader",
    "VideoInfo",
    "VideoWriter",
    "check_output",
    "is_video_file",
    "open_video",
    "read_mask_stack",
]
