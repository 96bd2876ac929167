"""Device choice: tested without a GPU by faking what torch reports."""

import pytest
import torch

from napari_styletransfer import devices
from napari_styletransfer.errors import StyleTransferError


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


def test_auto_prefers_cuda(gpu):
    assert devices.resolve_device("auto") == torch.device("cuda")
    assert devices.resolve_device(None) == torch.device("cuda")


def test_auto_then_mps_then_cpu(no_gpu, monkeypatch):
    assert devices.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("mps")


def test_explicit_cuda_index(gpu):
    assert devices.resolve_device("CUDA:1") == torch.device("cuda:1")
    with pytest.raises(StyleTransferError, match="does not exist"):
        devices.resolve_device("cuda:2")


def test_cuda_asked_but_missing(no_gpu):
    with pytest.raises(StyleTransferError, match="CUDA was asked for"):
        devices.resolve_device("cuda")


def test_mps_asked_but_missing(no_gpu):
    with pytest.raises(StyleTransferError, match="MPS"):
        devices.resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu", "tpu", "cuda:x", "cpu:0:1"])
def test_unknown_device(name):
    with pytest.raises(StyleTransferError, match="Unknown device"):
        devices.resolve_device(name)


def test_available_devices_lists_gpus(gpu):
    assert devices.available_devices() == ["auto", "cpu", "cuda:0", "cuda:1"]


def test_available_devices_cpu_only(no_gpu):
    assert devices.available_devices() == ["auto", "cpu"]


def test_out_of_memory_becomes_advice_and_frees_memory(monkeypatch):
    freed = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: freed.append(True))
    with pytest.raises(StyleTransferError, match="smaller max size"):
        with devices.out_of_memory_as_error(torch.device("cuda")):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert freed == [True]


def test_other_errors_pass_through_and_memory_is_freed(monkeypatch):
    freed = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: freed.append(True))
    with pytest.raises(KeyError):
        with devices.out_of_memory_as_error(torch.device("cuda")):
            raise KeyError("x")
    assert freed == [True]


def test_describe_cpu():
    assert devices.describe_device(torch.device("cpu")) == "cpu"
