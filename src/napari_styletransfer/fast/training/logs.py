"""Training logs: TensorBoard event files and a CSV beside them.

Each run writes, in its log folder:

- TensorBoard event files (``torch.utils.tensorboard.SummaryWriter``): the
  loss terms as scalars (``loss/total``, ``loss/content``, ``loss/style``,
  ``loss/tv``, and ``loss/validation``: the loss on the validation photo at
  preview steps) and the preview of the validation photo as images;
- ``losses.csv``: one row per logged step (step, seconds, loss terms, and the
  preview PNG written at that step, if any);
- ``previews/step_NNNNNN.png``: the previews.

A resumed run continues the same files: TensorBoard drops anything logged
after the checkpoint's step (``purge_step``) and so does the CSV.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CSV_NAME = "losses.csv"
COLUMNS = ("step", "seconds", "total", "content", "style", "tv", "validation", "preview")


class TrainingLog:
    """Writes the losses and previews of one training run (see the module docstring).

    Parameters
    ----------
    folder : Path
        The log folder (created).
    start_step : int
        Steps already done (a resumed run); later entries are dropped.
    """

    def __init__(self, folder: Path, start_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(folder)
        (self.folder / "previews").mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(
            log_dir=str(self.folder), purge_step=start_step + 1 if start_step else None
        )
        self.csv_path = self.folder / CSV_NAME
        rows = self._kept_rows(start_step)
        self._file = open(self.csv_path, "w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(COLUMNS)
        self._csv.writerows(rows)
        self._file.flush()

    def _kept_rows(self, start_step: int) -> list[list[str]]:
        if not start_step or not self.csv_path.is_file():
            return []
        with open(self.csv_path, newline="") as file:
            rows = list(csv.reader(file))[1:]
        return [row for row in rows if row and int(row[0]) <= start_step]

    def losses(
        self, step: int, seconds: float, losses: dict[str, float], preview: str = ""
    ) -> None:
        """Log the loss terms of one step."""
        for key, value in losses.items():
            self.writer.add_scalar(f"loss/{key}", value, step)
        values = [f"{losses[k]:.6g}" if k in losses else "" for k in COLUMNS[2:7]]
        self._csv.writerow([step, f"{seconds:.2f}", *values, preview])
        self._file.flush()

    def preview(self, step: int, image: np.ndarray) -> str:
        """Log a preview (H×W×3 float in [0, 1]); returns the PNG's path relative to the folder."""
        from PIL import Image

        pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
        self.writer.add_image("preview", pixels, step, dataformats="HWC")
        name = f"previews/step_{step:06d}.png"
        Image.fromarray(pixels).save(self.folder / name)
        return name

    def close(self) -> None:
        """Flush and close the event file and the CSV."""
        self.writer.close()
        self._file.close()
