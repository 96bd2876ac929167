"""bench_refine.py's smoke mode runs end to end and reports both starts."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_refine


def test_smoke_reports_both_starts(tmp_path, capsys):
    assert bench_refine.main(["--smoke", "--images", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| starry-night | init=")]
    assert [row.split(" | ")[1] for row in rows] == ["init=content", "init=fast"]
    for row in rows:
        distances = [float(x) for x in re.findall(r"\| (\d+\.\d{3}) ", row)]
        assert len(distances) == 2 and all(d > 0 for d in distances), row
    assert "Command: `python benchmarks/bench_refine.py --smoke" in text
    assert (tmp_path / "bench_refine_starry-night.png").stat().st_size > 0


def test_steps_to_match_needs_both_goals():
    run = {"steps": [5, 10, 15], "distances": [(0.5, 0.2), (0.3, 0.9), (0.3, 0.4)]}
    assert bench_refine.steps_to_match(run, 0.3, 0.5) == 15
    assert bench_refine.steps_to_match(run, 0.3, float("inf")) == 10
    assert bench_refine.steps_to_match(run, 0.1, 1.0) is None


def test_match_text_counts_fewer_steps_against_the_photo_start():
    assert bench_refine.match_text({"content": 100, "fast": 85}, "fast") == (
        "85: 15 fewer steps (15 %)"
    )
    assert bench_refine.match_text({"content": 80, "fast": 80}, "fast").startswith("80: 0 fewer")
    assert bench_refine.match_text({"content": 90, "fast": None}, "fast") == "not reached"
