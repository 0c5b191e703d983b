"""tasktransfer.io: tensors saved with their metadata, and writes that leave the old file whole."""

import pytest
import torch

from tasktransfer.io import atomic_write_text, load_tensors, save_tensors


def test_tensors_round_trip_with_metadata(tmp_path):
    path = tmp_path / "x.safetensors"
    save_tensors(path, {"a": torch.arange(4.0)}, {"task": "t", "lrs": [0.1, 0.2]})
    tensors, meta = load_tensors(path)
    assert torch.equal(tensors["a"], torch.arange(4.0)) and meta == {"task": "t", "lrs": [0.1, 0.2]}


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
