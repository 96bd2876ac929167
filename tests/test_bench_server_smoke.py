"""benchmarks/bench_server.py in smoke mode: the service's results equal the in-process ones,
nothing is lost, and the report comes out (so the script does not rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from serving import child_env

REPO = Path(__file__).resolve().parents[1]


def test_bench_server_smoke_checks_every_result():
    command = [sys.executable, str(REPO / "benchmarks" / "bench_server.py"), "--smoke"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, env=child_env()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout
    assert "Every service result equalled the in-process one bit for bit." in report
    assert "Every job completed, bit for bit, none lost: yes" in report
    assert "| 6 | 6 | 6 | 0 | 0 |" in report  # jobs, done, equal, lost, errors
