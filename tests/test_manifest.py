"""The npe2 manifest: valid, and every command it names exists."""

import importlib

import pytest
from npe2 import PluginManifest

import napari_styletransfer


@pytest.fixture(scope="module")
def manifest():
    return PluginManifest.from_distribution("napari-styletransfer")


def test_manifest_is_found_by_name(manifest):
    assert manifest.name == "napari-styletransfer"
    assert manifest.display_name == "Style Transfer"


@pytest.mark.parametrize("display_name", ["Style transfer", "Segment subject"])
def test_widgets_are_declared(manifest, display_name):
    names = [w.display_name for w in manifest.contributions.widgets]
    assert display_name in names


def test_every_command_imports(manifest):
    for command in manifest.contributions.commands:
        module, _, attr = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), command.id


def test_sample_data_covers_the_bundled_images(manifest):
    keys = {s.key for s in manifest.contributions.sample_data}
    assert set(napari_styletransfer.style_names()) <= keys
    assert "astronaut" in keys


def test_npe2_validate_command():
    from npe2.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["validate", "napari-styletransfer"])
    assert result.exit_code == 0, result.output
