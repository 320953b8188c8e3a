"""The demucs separator's errors (localize/stages/mix/separate/demucs_backend.py): no real weights here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.errors import MissingExtraError, ModelError
from localize.stages.mix.separate import SeparateOptions, create_separator


def test_missing_demucs_is_a_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "demucs", None)  # import demucs -> ImportError
    sep = create_separator(SeparateOptions(backend="demucs"))
    with pytest.raises(MissingExtraError, match=r"pip install 'localize\[demucs\]'") as err:
        sep.check()
    assert err.value.extra == "demucs"


def _no_weights_anywhere(monkeypatch, tmp_path: Path) -> None:
    pytest.importorskip("demucs", reason="demucs is not installed (pip install 'localize[demucs]')")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LOCALIZE_DEMUCS_REPO", raising=False)


def test_absent_weights_are_one_clear_model_error(monkeypatch, tmp_path):
    _no_weights_anywhere(monkeypatch, tmp_path)
    sep = create_separator(SeparateOptions(backend="demucs"))
    with pytest.raises(ModelError) as err:
        sep.check()
    message = str(err.value)
    assert "'htdemucs' has no weights on this machine" in message
    assert "LOCALIZE_DEMUCS_REPO" in message and "\n" not in message


def test_repo_env_that_is_not_a_folder(monkeypatch, tmp_path):
    _no_weights_anywhere(monkeypatch, tmp_path)
    monkeypatch.setenv("LOCALIZE_DEMUCS_REPO", str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match="is not a folder"):
        create_separator(SeparateOptions(backend="demucs")).check()


def test_local_repo_weights_load_and_separate(monkeypatch, tmp_path):
    """The real loading and apply_model path, on a tiny randomly initialised HDemucs saved the way
    `demucs --repo` folders hold models (no trained weights exist here)."""
    _no_weights_anywhere(monkeypatch, tmp_path)
    import torch
    from demucs.pretrained import demucs_unittest
    from demucs.states import get_state

    torch.manual_seed(0)
    model = demucs_unittest()
    args, kwargs = model._init_args_kwargs
    repo = tmp_path / "repo"
    repo.mkdir()
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs, "state": get_state(model, None, False)},
               repo / "tiny0001.th")
    monkeypatch.setenv("LOCALIZE_DEMUCS_REPO", str(repo))
    rate = 22_050
    mix = (0.1 * np.random.default_rng(0).standard_normal((rate, 1))).astype(np.float32)
    sf.write(tmp_path / "mix.wav", mix, rate, subtype="FLOAT")
    sep = create_separator(SeparateOptions(backend="demucs", demucs_model="tiny0001"))
    dialogue, background = sep.separate(tmp_path / "mix.wav", [(0, 500)], tmp_path / "out")
    d, r = sf.read(dialogue, dtype="float32", always_2d=True)
    b, _ = sf.read(background, dtype="float32", always_2d=True)
    assert r == rate and d.shape == b.shape == mix.shape
    assert np.allclose(d + b, mix, atol=1e-5)
    assert sep.model_version().endswith("/tiny0001")
    sep.release()
