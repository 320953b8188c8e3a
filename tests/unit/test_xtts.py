"""XTTS-v2 backend: the errors a user meets before any weights load (no weights here)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from localize.core.errors import ConfigError, MissingExtraError, ModelError, UnknownNameError
from localize.stages.voice.tts import SYNTHESIZERS
from localize.stages.voice.tts.xtts import ENV, FILES, XttsSynthesizer, XttsVoice, model_dir, xtts_language


def _model(tmp_path: Path, names: tuple[str, ...] = FILES) -> Path:
    root = tmp_path / "XTTS-v2"
    root.mkdir()
    for name in names:
        (root / name).write_bytes(b"not real weights")
    return root


def test_registered_and_clones() -> None:
    synth = SYNTHESIZERS.create("xtts")
    assert isinstance(synth, XttsSynthesizer)
    assert synth.clones is True
    assert SYNTHESIZERS.load("piper").clones is False
    assert SYNTHESIZERS.load("espeak").clones is False


def test_no_model_configured_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ModelError, match=ENV) as info:
        XttsSynthesizer().check("en/clone")
    assert "huggingface.co/coqui/XTTS-v2" in str(info.value)
    for name in FILES:
        assert name in str(info.value)


def test_missing_directory_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match="nowhere.*does not exist"):
        XttsSynthesizer().check("en/clone")


def test_directory_missing_files_names_them(tmp_path: Path) -> None:
    root = _model(tmp_path, ("config.json", "vocab.json"))
    with pytest.raises(ModelError) as info:
        XttsSynthesizer(model_dir=root).check("pt/clone")
    message = str(info.value)
    assert str(root) in message
    assert "model.pth" in message and "speakers_xtts.pth" in message
    assert "lacks model.pth, speakers_xtts.pth" in message


def test_env_var_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _model(tmp_path, ("config.json",))
    monkeypatch.setenv(ENV, str(root))
    with pytest.raises(ModelError, match="lacks model.pth, vocab.json, speakers_xtts.pth"):
        XttsSynthesizer().check("en/clone")


def test_unverified_files_are_used_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _model(tmp_path)
    with caplog.at_level(logging.WARNING, logger="localize.stages.voice.tts.xtts"):
        assert model_dir(root) == root
    assert "not verified" in caplog.text


def test_sha256_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.core import models as modelstore

    real = modelstore.entry("xtts-v2")
    fake = type(real)(**{**{f: getattr(real, f) for f in real.__dataclass_fields__},
                         "files": {**real.files, "model.pth": "0" * 64}})
    monkeypatch.setattr(modelstore, "entry", lambda model_id: fake if model_id == "xtts-v2" else real)
    root = _model(tmp_path)
    with pytest.raises(ModelError, match="model.pth has sha256"):
        model_dir(root)


def test_missing_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _model(tmp_path)
    monkeypatch.setitem(sys.modules, "TTS", None)  # as if coqui-tts were not installed
    with pytest.raises(MissingExtraError) as info:
        XttsSynthesizer(model_dir=root).check("en/clone")
    assert info.value.extra == "xtts" and info.value.module == "TTS"
    assert "pip install 'localize[xtts]'" in str(info.value)


def test_voices_and_languages() -> None:
    assert XttsVoice.parse("pt-BR/clone") == XttsVoice("pt", "clone")
    assert XttsVoice.parse("zh/Ana Florence") == XttsVoice("zh-cn", "Ana Florence")
    assert xtts_language("ca") is None
    synth = XttsSynthesizer()
    assert synth.default_voice("zh") == "zh-cn/clone"
    assert synth.default_voice("es") == "es/clone"
    assert synth.default_voice("ca") is None
    with pytest.raises(UnknownNameError, match="xtts language 'ca'"):
        XttsVoice.parse("ca/clone")
    with pytest.raises(ConfigError, match="'<language>/clone'"):
        XttsVoice.parse("clone")
