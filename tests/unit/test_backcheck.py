"""The back-transcription takes its recognizer from the ASR registry by name and uses only the
Recognizer protocol: transcribe_clip() for the text, model_version() for the cache key, release()."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest

from localize.core.artifacts import DubLine, DubTrack, TargetLine, Translation
from localize.core.cache import ArtifactStore
from localize.core.markets import get_market, load_markets
from localize.core.progress import NullProgress
from localize.core.stage import Built
from localize.stages.script.asr import RECOGNIZERS
from localize.stages.voice import backcheck
from localize.stages.voice.stage import backcheck_market

HEARD = {"L1.wav": "Olá, tudo bem?", "L2.wav": "adeus amigos"}


class FakeRecognizer:
    name = "fake-asr"
    version = "fake:1"
    calls: ClassVar[list[tuple[str, str, int | None]]] = []
    released = 0

    def __init__(self, options=None) -> None:
        self.options = options

    def model_version(self) -> str:
        return FakeRecognizer.version

    def transcribe_clip(self, clip: Path, language: str, *, max_tokens: int | None = None) -> str:
        FakeRecognizer.calls.append((clip.name, language, max_tokens))
        return HEARD[clip.name]

    def release(self) -> None:
        FakeRecognizer.released += 1


@pytest.fixture
def fake_asr(monkeypatch):
    module = types.ModuleType("localize_test_fake_asr")
    module.FakeRecognizer = FakeRecognizer
    monkeypatch.setitem(sys.modules, module.__name__, module)
    specs = RECOGNIZERS.specs()
    monkeypatch.setattr(RECOGNIZERS, "specs", lambda: {**specs, "fake": f"{module.__name__}:FakeRecognizer"})
    FakeRecognizer.calls, FakeRecognizer.released, FakeRecognizer.version = [], 0, "fake:1"
    return FakeRecognizer


def _dub(tmp_path: Path) -> tuple[Built[DubTrack], Translation]:
    lines = tuple(DubLine(id=i, slot_start_ms=0, slot_end_ms=1000, dub_start_ms=0, dub_end_ms=900, natural_ms=900,
                          speed=1.0, overflow_ms=0, clip=f"{i}.wav", voice="pt-br") for i in ("L1", "L2"))
    track = DubTrack(language="pt-BR", backend="espeak", voice="pt-br", sample_rate=48000, max_speed=1.3,
                     lines=lines)
    translation = Translation(source_language="es", target_language="pt", lines=(
        TargetLine(id="L1", source_text="hola", text="Olá, tudo bem?", route=("test",)),
        TargetLine(id="L2", source_text="adios", text="Adeus, amigo.", route=("test",))))
    return Built(key="dub-key", value=track, path=tmp_path / "dub"), translation


def test_the_recognizer_comes_from_the_registry_by_name(tmp_path: Path, fake_asr) -> None:
    dub, translation = _dub(tmp_path)
    store = ArtifactStore(tmp_path / "cache")
    market = get_market("pt-BR", load_markets())
    scores = backcheck_market(market, dub, translation, store, NullProgress(), asr="fake")
    assert scores == {"L1": 0.0, "L2": backcheck.cer("Adeus, amigo.", "adeus amigos")} and scores["L2"] > 0
    assert fake_asr.calls == [("L1.wav", "pt", backcheck.MAX_TOKENS), ("L2.wav", "pt", backcheck.MAX_TOKENS)]
    assert fake_asr.released == 1

    fake_asr.calls.clear()
    assert backcheck_market(market, dub, translation, store, NullProgress(), asr="fake") == scores
    assert fake_asr.calls == []  # cached per line

    fake_asr.version = "fake:2"  # another model: the lines are heard again
    assert backcheck_market(market, dub, translation, store, NullProgress(), asr="fake") == scores
    assert len(fake_asr.calls) == 2


def test_the_default_recognizer_is_faster_whisper_base_without_vad() -> None:
    recognizer = backcheck.recognizer()
    assert recognizer.name == "faster-whisper"
    assert (recognizer.options.model, recognizer.options.vad) == ("base", False)
    assert recognizer.model_version().startswith("whisper-base:")


def test_a_language_whisper_does_not_know_is_not_scored(tmp_path: Path, fake_asr) -> None:
    dub, _ = _dub(tmp_path)
    track = DubTrack(language="oc", backend="espeak", voice="oc", sample_rate=48000, max_speed=1.3,
                     lines=dub.value.lines)
    assert backcheck.backcheck(track, dub.path, {"L1": "x"}, fake_asr()) == {}
    assert fake_asr.calls == []


def test_every_built_in_recognizer_can_back_transcribe_a_clip(tmp_path: Path, monkeypatch) -> None:
    """whisperX lacked transcribe_clip: it decodes clips with the same weights through faster-whisper."""
    from localize.core.options import AsrOptions
    from localize.stages.script.asr import RECOGNIZERS
    from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer

    heard = []
    monkeypatch.setattr(FasterWhisperRecognizer, "transcribe_clip",
                        lambda self, clip, language, *, max_tokens=None: heard.append((clip, language)) or "hola")
    # 'openai' asks a server: tests/integration/test_openai_transcribe.py back-transcribes a real clip with it.
    local = [name for name in RECOGNIZERS.names() if name != "openai"]
    assert callable(RECOGNIZERS.load("openai").transcribe_clip)
    for name in local:
        recognizer = RECOGNIZERS.load(name)(AsrOptions(model="base"))
        assert recognizer.transcribe_clip(tmp_path / "c.wav", "es") == "hola"
        recognizer.release()
    assert heard == [(tmp_path / "c.wav", "es")] * len(local)


def test_pack_clips_fills_windows_in_order():
    from localize.stages.script.asr.faster_whisper import owner, pack_clips

    assert pack_clips([10, 10, 10], limit=28, gap=1) == [[0, 1], [2]]
    assert pack_clips([3, 3, 3], limit=28, gap=1) == [[0, 1, 2]]
    assert pack_clips([40, 2], limit=28, gap=1) == [[0], [1]]  # too long for a window: alone
    assert pack_clips([]) == []
    spans = [(0.0, 2.0), (3.0, 5.0)]
    assert [owner(spans, t) for t in (1.0, 2.4, 2.6, 4.0, 9.0)] == [0, 0, 1, 1, 1]


class PackingRecognizer(FakeRecognizer):
    packed: ClassVar[list[tuple[tuple[str, ...], str, int | None]]] = []

    def transcribe_clips(self, clips, language, *, max_tokens=None):
        from localize.stages.script.asr.faster_whisper import HeardClip

        PackingRecognizer.packed.append((tuple(c.name for c in clips), language, max_tokens))
        # The second clip's first word heard at the end of the first: the cut moves back to fit the texts.
        return [HeardClip(window=0, words=(" Olá,", " tudo", " bem?", " adeus")),
                HeardClip(window=0, words=(" amigos",))]


def test_a_recognizer_that_packs_clips_hears_every_line_in_one_call(tmp_path: Path) -> None:
    dub, translation = _dub(tmp_path)
    FakeRecognizer.calls, PackingRecognizer.packed = [], []
    texts = {t.id: t.text for t in translation.lines}
    scores = backcheck.backcheck(dub.value, dub.path, texts, PackingRecognizer())
    assert scores == {"L1": 0.0, "L2": backcheck.cer("Adeus, amigo.", "adeus amigos")}
    assert PackingRecognizer.packed == [(("L1.wav", "L2.wav"), "pt", backcheck.MAX_TOKENS)]
    assert FakeRecognizer.calls == []
    one = backcheck.backcheck(replace(dub.value, lines=dub.value.lines[:1]), dub.path, texts, PackingRecognizer())
    assert one == {"L1": 0.0} and FakeRecognizer.calls == [("L1.wav", "pt", backcheck.MAX_TOKENS)]


def test_recut_moves_a_cut_only_inside_a_window_and_only_where_the_texts_fit_better():
    refs = ["in the exhibition", "in being modern"]
    words = [[" in", " the", " exhibition", " in"], [" being", " modern"]]
    assert backcheck.recut(words, [0, 0], refs) == [[" in", " the", " exhibition"], [" in", " being", " modern"]]
    assert backcheck.recut(words, [0, 1], refs) == words  # different windows: the silence between is real
    assert backcheck.recut([[" a"], [" b"]], [0, 0], ["a", "b"]) == [[" a"], [" b"]]
    assert backcheck.recut([[], [" a", " b"]], [0, 0], ["a", "b"]) == [[" a"], [" b"]]
