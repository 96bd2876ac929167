"""One progress bar for a whole batch: done / failed / left, images per minute, time left."""

from __future__ import annotations

import sys
import time


class BatchProgress:
    """A tqdm bar over every picture and slice of a batch (on a terminal only by default).

    Parameters
    ----------
    total : int
        Pictures and slices to stylise.
    enabled : bool or None
        None: only when stderr is a terminal.
    """

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self._start = time.perf_counter()
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                unit="img",
                dynamic_ncols=True,
                miniters=1,  # tqdm would stop redrawing after a slow first item
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
            )
            self._bar.set_postfix_str(self.postfix(), refresh=False)

    @property
    def left(self) -> int:
        """Items not finished yet."""
        return self.total - self.done - self.failed

    def per_minute(self) -> float:
        """Images finished (done or failed) per minute so far."""
        elapsed = time.perf_counter() - self._start
        return 60.0 * (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    def postfix(self) -> str:
        """E.g. "12 done, 1 failed, 87 left, 41.0 img/min"."""
        return (
            f"{self.done} done, {self.failed} failed, {self.left} left, "
            f"{self.per_minute():.1f} img/min"
        )

    def update(self, ok: bool) -> None:
        """Count one finished picture or slice."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix(), refresh=False)
            self._bar.update(1)

    def write(self, text: str) -> None:
        """Print a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        """Remove the bar from the terminal's last line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
