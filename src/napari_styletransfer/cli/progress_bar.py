"""Terminal progress for the CLI: a tqdm bar on a TTY, silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from ..core.progress import Progress


def with_progress(reports: Iterable[Progress], enabled: bool | None = None) -> Iterator[Progress]:
    """Pass reports through, drawing a progress bar on stderr when it is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield from reports
        return
    from tqdm import tqdm

    with tqdm(total=1000, unit="", bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as bar:
        announced = False
        for report in reports:
            if not announced:
                bar.write(f"running on {report.device}")
                announced = True
            bar.set_description(report.stage or "working")
            bar.update(int(report.fraction * 1000) - bar.n)
            yield report


def last_report(reports: Iterable[Progress]) -> Progress:
    """Run a report stream to its end and return the last (finished) report."""
    final = None
    for final in reports:  # noqa: B007 - the loop drives the run
        pass
    return final
