"""The dub's use of a TTS backend: every built-in backend declares what the Synthesizer protocol asks,
and the dub hands a line's intonation range only to a backend that says it is expressive."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import Line, TargetLine
from localize.core.cache import ArtifactStore
from localize.stages.voice.dub import DubRequest, dub_lines
from localize.stages.voice.tts import SYNTHESIZERS, Synthesizer, SynthesizerBase

BUILTIN = ("espeak", "piper", "kokoro", "xtts")


@pytest.mark.parametrize("name", BUILTIN)
def test_each_builtin_backend_declares_the_protocol(name: str) -> None:
    cls = SYNTHESIZERS.load(name)
    assert cls.name == name
    for attr in ("clones", "expressive"):
        assert attr in vars(cls), f"{name} does not say whether it is {attr}"  # declared, not inherited
        assert isinstance(vars(cls)[attr], bool)
    params = inspect.signature(cls.synthesize).parameters
    assert params["reference"].kind is inspect.Parameter.KEYWORD_ONLY and params["reference"].default is None
    assert params["pitch_range"].kind is inspect.Parameter.KEYWORD_ONLY and params["pitch_range"].default == 100
    for method in ("model_version", "default_voice", "check", "release"):
        assert callable(getattr(cls, method))


def test_only_espeak_is_expressive_and_only_xtts_clones() -> None:
    assert {n for n in BUILTIN if SYNTHESIZERS.load(n).expressive} == {"espeak"}
    assert {n for n in BUILTIN if SYNTHESIZERS.load(n).clones} == {"xtts"}


class RecordingFake(SynthesizerBase):
    """Writes a tone per line and records the pitch range it was asked for."""

    name = "fake"
    clones = False

    def __init__(self, expressive: bool) -> None:
        self.expressive = expressive
        self.ranges: dict[str, int] = {}

    def model_version(self, voice: str) -> str:
        return "fake:1"

    def default_voice(self, language: str) -> str | None:
        return "v"

    def check(self, voice: str) -> None:
        pass

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        self.ranges[text] = pitch_range
        t = np.arange(int(0.6 * 24_000)) / 24_000
        sf.write(out, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24_000, subtype="PCM_16")


def _glide(low: float, high: float, seconds: float = 1.5, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(low * (high / low) ** (t / seconds)) / rate
    return (0.3 * np.sin(phase) + 0.15 * np.sin(2 * phase)).astype(np.float32)


def _episode(tmp_path: Path) -> tuple[list[Line], list[TargetLine], Path]:
    gap = np.zeros(8000, dtype=np.float32)
    audio = np.concatenate([_glide(120, 160), gap, _glide(110, 260), gap, _glide(125, 170), gap, _glide(130, 134)])
    original = tmp_path / "original.wav"
    sf.write(original, audio, 16_000, subtype="PCM_16")
    spans = [(0, 1500), (2000, 3500), (4000, 5500), (6000, 7500)]
    lines = [Line(id=f"L{i}", start_ms=a, end_ms=b, text="x", speaker="A") for i, (a, b) in enumerate(spans)]
    targets = [TargetLine(id=ln.id, source_text="x", text=f"line {ln.id}", route=("test",)) for ln in lines]
    return lines, targets, original


def _dub(tmp_path: Path, synth: Synthesizer) -> dict[str, int]:
    lines, targets, original = _episode(tmp_path)
    out = tmp_path / f"out-{synth.expressive}"
    out.mkdir()
    request = DubRequest(synthesizer=synth, voice="v", language="en", max_speed=1.3, duration_ms=8000,
                         original=original)
    track = dub_lines(lines, targets, request, out_dir=out, store=ArtifactStore(tmp_path / "cache"))
    assert (track.backend, track.voice, track.language, track.max_speed) == ("fake", "v", "en", 1.3)
    return {ln.id: ln.pitch_range for ln in track.lines}


def test_a_backend_that_is_not_expressive_gets_the_voices_own_range(tmp_path: Path) -> None:
    synth = RecordingFake(expressive=False)
    assert set(_dub(tmp_path, synth).values()) == {100}
    assert set(synth.ranges.values()) == {100}


def test_an_expressive_backend_gets_each_lines_range_from_the_original(tmp_path: Path) -> None:
    pytest.importorskip("librosa")
    synth = RecordingFake(expressive=True)
    ranges = _dub(tmp_path, synth)
    assert ranges["L1"] == 200 and ranges["L3"] == 40  # the excited line and the monotone one
    assert synth.ranges == {f"line {k}": v for k, v in ranges.items()}


def test_the_voice_stage_keys_every_artifact_through_a_stage_object() -> None:
    import ast

    import localize.stages.voice as voice

    for path in Path(voice.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                 for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert "stage_key" not in calls, f"{path} assembles a cache key by hand"
        for node in ast.walk(tree):  # no loose version constants beside the Stage objects
            if isinstance(node, ast.Assign):
                assert not any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets), path


def test_a_synthesized_line_keeps_its_cache_key(tmp_path: Path) -> None:
    from localize.core.cache import stage_key
    from localize.stages.voice.dub import CLIP

    options = {"text": "hola", "voice": "v", "range": 140}
    assert CLIP.key(inputs=[], backend="fake", model_version="fake:1", options=options) == \
        stage_key("clip", inputs=[], backend="fake", model_version="fake:1", options=options)  # clips cached so far
    store = ArtifactStore(tmp_path / "cache")
    synth = RecordingFake(expressive=False)
    lines, targets, _ = _episode(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    dub_lines(lines[:1], targets[:1], DubRequest(synthesizer=synth, voice="v", language="en", max_speed=1.3,
                                                 duration_ms=8000), out_dir=out, store=store)
    key = CLIP.key(inputs=[], backend="fake", model_version="fake:1", options={"text": "line L0", "voice": "v"})
    assert CLIP.get(store, key) is not None
