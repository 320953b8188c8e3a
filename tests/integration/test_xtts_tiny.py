"""XTTS-v2 for real through coqui-tts, on a tiny random model this test builds itself.

The XTTS-v2 weights (Coqui Public Model License) cannot be had here, so the test builds a model with
the real architecture at toy size (one GPT layer of 64 channels; the HiFi-GAN decoder and speaker
encoder at their fixed real sizes), random weights, and writes it in the layout of the published
checkpoint: config.json, model.pth (pickling its XttsConfig, as the published one does), vocab.json
(a character tokenizer) and speakers_xtts.pth. localize's backend then checks the directory against
a manifest holding the files' sha256s, loads it, clones a voice from a reference WAV and writes
24 kHz WAVs. The speech is noise (random weights); the test checks the loading and synthesis path.

Runs where coqui-tts imports (torch and torchaudio of one release); see the README:
    /work/wxvenv/bin/python -m pytest tests/integration/test_xtts_tiny.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

# exc_type: where coqui-tts is installed without a matching torchaudio, importing it raises ImportError
pytest.importorskip("TTS.tts.models.xtts", reason="coqui-tts does not import here: pip install 'localize[xtts]' "
                    "(torch and torchaudio 2.8.0)", exc_type=ImportError)

from localize.core import models as modelstore  # noqa: E402
from localize.core.cache import file_sha256  # noqa: E402
from localize.core.errors import ModelError, UnknownNameError  # noqa: E402
from localize.stages.voice.tts.xtts import FILES, MODEL_ID, XttsSynthesizer  # noqa: E402

pytestmark = pytest.mark.integration

SPEAKER = "Tiny Speaker"


def _reference(path: Path, seconds: float = 5.0, rate: int = 16_000) -> Path:
    """A voiced-like clip: a 140 Hz harmonic tone with a syllable-rate envelope."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    sf.write(path, (0.2 * tone * envelope).astype(np.float32), rate)
    return path


def _build_tiny_xtts(root: Path, reference: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts, _legacy_safe_globals

    root.mkdir()
    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]", "[es]"]
    vocab = {token: i for i, token in enumerate([*specials, *"abcdefghijklmnopqrstuvwxyz0123456789'.,!?-"])}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(root / "vocab.json"))

    args = XttsArgs(gpt_layers=1, gpt_n_model_channels=64, gpt_n_heads=4, decoder_input_dim=64,
                    gpt_max_audio_tokens=40, gpt_use_perceiver_resampler=True)
    config = XttsConfig(model_args=args, languages=["en", "es"])
    config.save_json(str(root / "config.json"))
    torch.manual_seed(0)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(root / "vocab.json"))
    model.init_models()  # sizes the text embedding from the tokenizer, as load_checkpoint does
    with _legacy_safe_globals():  # pickle the config under the module names the published file uses
        torch.save({"config": config, "model": model.state_dict()}, root / "model.pth")
    model.eval()
    latent, embedding = model.get_conditioning_latents(audio_path=[str(reference)])
    torch.save({SPEAKER: {"gpt_cond_latent": latent, "speaker_embedding": embedding}}, root / "speakers_xtts.pth")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("xtts")
    reference = _reference(base / "reference.wav")
    root = base / "XTTS-v2"
    _build_tiny_xtts(root, reference)
    return root, reference, {name: file_sha256(root / name) for name in FILES}


@pytest.fixture
def manifest(tiny: tuple[Path, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """models/manifest.toml's xtts-v2 entry with the tiny model's sha256s, as a user would fill it in."""
    shas = tiny[2]
    real = modelstore.entry
    pinned = dataclasses.replace(real(MODEL_ID), files=dict(shas))
    monkeypatch.setattr(modelstore, "entry", lambda model_id: pinned if model_id == MODEL_ID else real(model_id))
    return shas


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, rate = sf.read(path, dtype="float32")
    return samples, rate


def test_tiny_xtts_clones_from_a_reference(tiny: tuple[Path, Path, dict[str, str]], manifest: dict[str, str],
                                           tmp_path: Path) -> None:
    root, reference, _ = tiny
    synth = XttsSynthesizer(model_dir=root, threads=2)
    synth.check("en/clone")
    assert synth.model_version("en/clone").startswith(f"xtts-v2:{manifest['model.pth'][:16]}:en/clone")
    synth.synthesize("Hello there, how are you?", "en/clone", tmp_path / "a.wav", reference=reference)
    synth.synthesize("Hello there, how are you?", "en/clone", tmp_path / "b.wav", reference=reference)
    synth.release()

    samples, rate = _read(tmp_path / "a.wav")
    assert rate == 24_000
    assert samples.ndim == 1 and len(samples) > rate // 10
    assert np.isfinite(samples).all() and np.abs(samples).max() > 0
    assert np.array_equal(samples, _read(tmp_path / "b.wav")[0])  # seeded sampling

    # The files were not rewritten by loading: a fresh backend passes the sha256 check and says the same.
    assert {name: file_sha256(root / name) for name in FILES} == manifest
    again = XttsSynthesizer(model_dir=root)
    again.synthesize("Hello there, how are you?", "en/clone", tmp_path / "d.wav", reference=reference)
    assert np.array_equal(samples, _read(tmp_path / "d.wav")[0])


def test_tiny_xtts_built_in_speaker(tiny: tuple[Path, Path, dict[str, str]], manifest: dict[str, str],
                                    tmp_path: Path) -> None:
    root = tiny[0]
    synth = XttsSynthesizer(model_dir=root)
    synth.synthesize("Hola, ¿qué tal?", f"es/{SPEAKER}", tmp_path / "es.wav")
    samples, rate = _read(tmp_path / "es.wav")
    assert rate == 24_000 and len(samples) > 0 and np.isfinite(samples).all()
    with pytest.raises(UnknownNameError, match=f"xtts speaker 'Nobody'.*{SPEAKER}"):
        synth.synthesize("Hola.", "es/Nobody", tmp_path / "nobody.wav")


def test_tiny_xtts_refuses_a_file_that_differs_from_the_manifest(
        tiny: tuple[Path, Path, dict[str, str]], manifest: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = modelstore.entry(MODEL_ID)
    wrong = dataclasses.replace(pinned, files={**pinned.files, "vocab.json": "0" * 64})
    monkeypatch.setattr(modelstore, "entry", lambda model_id: wrong)
    with pytest.raises(ModelError, match="vocab.json has sha256"):
        XttsSynthesizer(model_dir=tiny[0]).check("en/clone")
