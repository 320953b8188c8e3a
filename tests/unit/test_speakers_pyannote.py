"""The 'pyannote' speaker backend without pyannote: its errors, and its turns mapped to our lines through a
fake pyannote module (the real pipeline needs the user's gated weights). Embeddings are stubbed; the pitch of
each speaker is measured on synthetic tones."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import Line, Script
from localize.core.errors import MissingExtraError, ModelError
from localize.stages.script.speakers import SpeakerChange, label_speakers
from localize.stages.script.speakers import embed as embed_module
from localize.stages.script.speakers.backends import PYANNOTE_ENV, SPEAKER_BACKENDS, Pyannote, from_turns

RATE = 16_000


def script() -> Script:
    lines = (Line(id="1", start_ms=0, end_ms=3000, text="one two three"),
             Line(id="2", start_ms=3500, end_ms=8000, text="four five six seven"),
             Line(id="3", start_ms=8500, end_ms=10000, text="eight"),
             Line(id="4", start_ms=10500, end_ms=11000, text="nine"))
    return Script(language="en", duration_ms=11_500, lines=lines, backend="test", model="")


# SPK_1 speaks first (so it is cluster 0), SPK_0 takes line 2 over at 5.5 s and says the rest.
TURNS = [(0, 3100, "SPK_1"), (3400, 5500, "SPK_1"), (5500, 10100, "SPK_0")]


def tones() -> np.ndarray:
    """A 120 Hz voice until 5.5 s, then a 220 Hz one (low and high pitch classes)."""
    t = np.arange(int(11.5 * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * np.where(t < 5.5, 120.0, 220.0) * t)).astype(np.float32)


@pytest.fixture
def no_embeddings(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[int, int]]]:
    calls: list[list[tuple[int, int]]] = []

    def fake(samples, spans, **_):
        calls.append(list(spans))
        return np.tile(np.eye(4)[0] * 2.0, (len(spans), 1))

    monkeypatch.setattr(embed_module, "embed_spans", fake)
    return calls


@pytest.fixture
def no_pitch(monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.stages.script.speakers import pitch

    monkeypatch.setattr(pitch, "median_f0", lambda samples, spans, **_: 0.0)


def test_turns_become_line_speakers_and_a_change_inside_a_line(no_embeddings) -> None:
    found = from_turns(script(), TURNS, tones())
    assert found is not None
    assert found.labels == (0, 0, 1, 1)  # line 4 has no turn over it: the nearest turn's speaker
    assert found.changes == (SpeakerChange(line=1, at_ms=5500, label=1),)
    assert found.counts == (2, 3)
    assert found.pitch_classes == ("low", "high")
    assert found.f0_hz[0] == pytest.approx(120, abs=5) and found.f0_hz[1] == pytest.approx(220, abs=8)
    assert no_embeddings == [[(0, 3000), (3500, 5500), (5500, 8000), (8500, 10000), (10500, 11000)]]
    assert found.centroids == ((1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))  # unit means

    out = label_speakers(script(), found)
    assert [(line.id, line.start_ms, line.end_ms, line.text, line.speaker) for line in out.lines] == [
        ("1", 0, 3000, "one two three", "SPEAKER_00"),
        ("2", 3500, 5500, "four five", "SPEAKER_00"),
        ("2-2", 5500, 8000, "six seven", "SPEAKER_01"),
        ("3", 8500, 10000, "eight", "SPEAKER_01"),
        ("4", 10500, 11000, "nine", "SPEAKER_01"),
    ]


def test_a_short_turn_at_a_line_end_does_not_cut_it(no_pitch) -> None:
    turns = [(0, 3100, "A"), (3400, 7000, "A"), (7000, 10100, "B")]  # B holds the last 1000 ms of line 2 only
    found = from_turns(script(), turns, tones(), centroids=False)
    assert found is not None and found.changes == () and found.labels == (0, 0, 1, 1)
    assert found.centroids == ()
    assert from_turns(script(), [], tones(), centroids=False) is None


class FakeAnnotation:
    def __init__(self, turns: list[tuple[int, int, str]]) -> None:
        self.turns = turns

    def itertracks(self, *, yield_label: bool = False):
        assert yield_label
        for a, b, who in self.turns:
            yield types.SimpleNamespace(start=a / 1000, end=b / 1000), "_", who


@pytest.fixture
def fake_pyannote(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    seen: dict = {}

    class Pipeline:
        @staticmethod
        def from_pretrained(path: str):
            seen["config"] = path

            def run(audio, **kwargs):
                seen["audio"], seen["kwargs"] = audio, kwargs
                # pyannote.audio 4: a DiarizeOutput with an exclusive (overlap-free) annotation.
                return types.SimpleNamespace(exclusive_speaker_diarization=FakeAnnotation(TURNS),
                                             speaker_diarization=FakeAnnotation([(0, 11000, "WRONG")]))

            return run

    audio_module = types.ModuleType("pyannote.audio")
    audio_module.Pipeline = Pipeline  # type: ignore[attr-defined]
    package = types.ModuleType("pyannote")
    package.audio = audio_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyannote", package)
    monkeypatch.setitem(sys.modules, "pyannote.audio", audio_module)
    (tmp_path / "pipe").mkdir()
    (tmp_path / "pipe" / "config.yaml").write_text("pipeline: {}\n")
    monkeypatch.setenv(PYANNOTE_ENV, str(tmp_path / "pipe"))
    return seen


def test_the_pipeline_output_is_mapped_to_our_lines(fake_pyannote, no_embeddings, no_pitch, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the pyannote backend hands pyannote a torch tensor")
    wav = tmp_path / "ep.wav"
    sf.write(wav, tones(), RATE, subtype="PCM_16")
    backend = SPEAKER_BACKENDS.create("pyannote")
    found = backend.diarize(script(), wav, n_speakers=2)
    assert fake_pyannote["config"] == str(tmp_path / "pipe" / "config.yaml")
    assert fake_pyannote["kwargs"] == {"num_speakers": 2}
    assert fake_pyannote["audio"]["sample_rate"] == RATE and fake_pyannote["audio"]["waveform"].shape[0] == 1
    assert found is not None
    assert found.labels == (0, 0, 1, 1) and found.changes == (SpeakerChange(line=1, at_ms=5500, label=1),)
    backend.diarize(script(), wav)
    assert fake_pyannote["kwargs"] == {}


def test_without_the_variable_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PYANNOTE_ENV, raising=False)
    with pytest.raises(ModelError) as err:
        Pyannote().load_pipeline()
    message = str(err.value)
    assert PYANNOTE_ENV in message and "\n" not in message


def test_a_missing_path_is_a_model_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(PYANNOTE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError) as err:
        Pyannote().load_pipeline()
    message = str(err.value)
    assert PYANNOTE_ENV in message and "nowhere" in message and "\n" not in message
    (tmp_path / "empty").mkdir()  # a folder without config.yaml
    with pytest.raises(ModelError, match=r"config\.yaml"):
        Pyannote(pipeline=tmp_path / "empty").load_pipeline()


def test_pyannote_missing_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("pipeline: {}\n")
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match="pyannote"):
        Pyannote(pipeline=tmp_path).load_pipeline()

    import importlib.metadata

    def not_found(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_found)
    with pytest.raises(MissingExtraError, match="pyannote"):
        Pyannote(pipeline=tmp_path).model_version()


def test_a_pipeline_that_fails_to_load_is_a_model_error(fake_pyannote, monkeypatch: pytest.MonkeyPatch) -> None:
    def gated(path: str):
        raise OSError("401 Client Error: gated repo")

    monkeypatch.setattr(sys.modules["pyannote.audio"].Pipeline, "from_pretrained", staticmethod(gated))
    with pytest.raises(ModelError, match="could not load"):
        Pyannote().load_pipeline()
    monkeypatch.setattr(sys.modules["pyannote.audio"].Pipeline, "from_pretrained", staticmethod(lambda p: None))
    with pytest.raises(ModelError, match="no pipeline"):
        Pyannote().load_pipeline()
