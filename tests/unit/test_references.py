"""A user's reference recording for a cloning TTS backend: checks, precedence and the dub cache key.

The synthesizer here is a fake that clones (it records the reference it is given and writes a
tone): the stage under test is the choice of reference, not speech synthesis.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from localize.stages.script.speakers.cast import open_cast
from localize.core.artifacts import Cast, Character, Line, Script, TargetLine, Translation
from localize.core.cache import ArtifactStore
from localize.stages.voice.casting import CharacterVoice
from localize.apps.cli import main
from localize.core.errors import InputError
from localize.core.markets import get_market, load_markets
from localize.core.options import RunOptions
from localize.stages.voice.stage import Voice, dub_market
from localize.core.progress import NullProgress
from localize.stages.voice.references import check_reference, reference_overrides
from localize.stages.voice.tts import SynthesizerBase
from localize.stages.script.speakers import CastRegistry
from localize.stages.audio.stage import Audio


def _wav(path: Path, seconds: float, rate: int = 16_000, hz: float = 200.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def _text(path: Path) -> Path:
    path.write_text("not audio", encoding="utf-8")
    return path


class CloningFake(SynthesizerBase):
    name = "fake-clone"
    clones = True
    expressive = False

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes | None]] = []  # (text, the reference's bytes)

    def model_version(self, voice: str) -> str:
        return "fake:1"

    def default_voice(self, language: str) -> str | None:
        return "xx/clone"

    def check(self, voice: str) -> None:
        pass

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        self.received.append((text, reference.read_bytes() if reference else None))
        _wav(out, 0.8, rate=24_000, hz=300.0)


def test_a_clip_of_three_to_thirty_seconds_is_accepted(tmp_path: Path) -> None:
    clip = _wav(tmp_path / "ana.wav", 5.0)
    assert check_reference(clip) == clip


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.wav", "missing.wav: the reference recording does not exist"),
    (lambda d: _text(d / "notes.wav"),
     "notes.wav: the reference recording is not an audio file soundfile can read; give a WAV or FLAC clip."),
    (lambda d: _wav(d / "short.wav", 1.5), "short.wav: the reference recording lasts 1.5 s; give 3 to 30 s"),
    (lambda d: _wav(d / "long.wav", 31.0, rate=8000), "long.wav: the reference recording lasts 31.0 s"),
])
def test_a_bad_clip_is_refused_in_one_sentence(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")) as info:
        check_reference(make(tmp_path))
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_the_runs_clip_wins_over_the_casts(tmp_path: Path) -> None:
    cast_clip, run_clip, other = (_wav(tmp_path / f"{n}.wav", 4.0) for n in ("cast", "run", "other"))
    registry = CastRegistry(Cast(series="s", characters=(
        Character(id="C01", name="Ana", embedding=(1.0,), voices={}, episodes=(), lines=3),
        Character(id="C02", name="Rui", embedding=(0.0,), voices={}, episodes=(), lines=2))))
    registry.set_reference("C01", cast_clip)
    registry.set_reference("C02", other)
    assert registry.character("C01").reference == str(cast_clip.resolve())
    found = reference_overrides([("Rui", run_clip)], registry)  # by the character's name
    assert found == {"C01": cast_clip.resolve(), "C02": run_clip}
    registry.set_reference("C01", None)
    assert registry.character("C01").reference == ""
    assert reference_overrides([], registry) == {"C02": other.resolve()}


def _episode(tmp_path: Path) -> tuple[Script, Translation, Audio]:
    # Two speakers in a 10 s original: A speaks 0-4 s at 150 Hz, B 5-9 s at 250 Hz.
    rate = 16_000
    t = np.arange(10 * rate) / rate
    samples = np.where(t < 4.5, np.sin(2 * np.pi * 150 * t), np.sin(2 * np.pi * 250 * t)) * 0.3
    original = tmp_path / "original.wav"
    sf.write(original, samples.astype(np.float32), rate, subtype="PCM_16")
    lines = (Line(id="L1", start_ms=0, end_ms=4000, text="hola", speaker="A"),
             Line(id="L2", start_ms=5000, end_ms=9000, text="adios", speaker="B"))
    script = Script(language="es", duration_ms=10_000, lines=lines, backend="test", model="test")
    translation = Translation(source_language="es", target_language="pt", lines=tuple(
        TargetLine(id=ln.id, source_text=ln.text, text=f"{ln.text} pt", route=("test",)) for ln in lines))
    return script, translation, Audio(key="audio-key", asr=original, bed=original)


def test_the_users_clip_reaches_the_cloning_backend_and_keys_the_dub(tmp_path: Path) -> None:
    script, translation, audio = _episode(tmp_path)
    voices = {s: CharacterVoice(speaker=s, voice="xx/clone", f0_hz=0.0, reference=((a, b),))
              for s, a, b in (("A", 0, 4000), ("B", 5000, 9000))}
    market = get_market("pt-BR", load_markets())
    store = ArtifactStore(tmp_path / "cache")
    synth = CloningFake()
    clip = _wav(tmp_path / "ana.wav", 4.0, hz=440.0)

    def dub(references: dict[str, Path] | None) -> str:
        return dub_market(market, Voice(synth, "xx/clone"), "tr-key", script, translation, store, NullProgress(),
                          audio, voices, None, references).key

    automatic = dub(None)
    got = dict(synth.received)
    original = sf.read(audio.asr, dtype="int16")[0]
    for text, start, end in (("hola pt", 0, 4000), ("adios pt", 5000, 9000)):
        sent = got[text]
        assert sent is not None
        spoken = sf.read(io.BytesIO(sent), dtype="int16")[0]
        assert np.array_equal(spoken, original[start * 16:end * 16])  # their own cleanest speech

    synth.received.clear()
    overridden = dub({"A": clip})
    got = dict(synth.received)
    assert overridden != automatic
    assert got == {"hola pt": clip.read_bytes()}  # B's line came from the per-line cache, unchanged

    synth.received.clear()
    assert dub({"A": clip}) == overridden and synth.received == []  # same clip: nothing re-synthesized
    _wav(clip, 4.0, hz=520.0)  # the same file name, another recording
    changed = dub({"A": clip})
    assert changed != overridden and dict(synth.received) == {"hola pt": clip.read_bytes()}


def test_a_backend_that_does_not_clone_ignores_references(tmp_path: Path) -> None:
    script, translation, audio = _episode(tmp_path)
    synth = CloningFake()
    synth.clones = False
    store = ArtifactStore(tmp_path / "cache")
    market = get_market("pt-BR", load_markets())
    keys = [dub_market(market, Voice(synth, "xx/voice"), "tr-key", script, translation, store, NullProgress(),
                       audio, {}, None, refs).key for refs in (None, {"A": _wav(tmp_path / "a.wav", 4.0)})]
    assert keys[0] == keys[1]
    assert all(ref is None for _, ref in synth.received)


def test_cli_reference_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    episode = tmp_path / "ep.mp4"
    episode.write_bytes(b"")
    short = _wav(tmp_path / "short.wav", 1.0)
    result = runner.invoke(main, ["run", str(episode), "-m", "pt-BR", "-o", str(tmp_path / "out"),
                                  "--reference", f"SPEAKER_00={short}"])
    assert result.exit_code == 2
    assert f"{short}: the reference recording lasts 1.0 s; give 3 to 30 s of one speaker's clean speech." \
        in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["run", str(episode), "-m", "pt-BR", "--reference", "ana.wav"])
    assert result.exit_code == 2 and "expected SPEAKER=CLIP" in result.output
    result = runner.invoke(main, ["run", str(episode), "-m", "pt-BR", "--reference", f"A={tmp_path / 'no.wav'}"])
    assert result.exit_code == 2 and "no.wav: the reference recording does not exist" in result.output


def test_cli_cast_reference_sets_and_clears(tmp_path: Path) -> None:
    cast_file = tmp_path / "series" / "cast.json"
    registry = CastRegistry(Cast(series="series", characters=(
        Character(id="C01", name="Ana", embedding=(1.0,), voices={}, episodes=(), lines=3),)), cast_file)
    registry.save()
    clip = _wav(tmp_path / "ana.wav", 6.0)
    runner = CliRunner()
    result = runner.invoke(main, ["cast", "reference", str(cast_file), "C01", str(clip)])
    assert result.exit_code == 0, result.output
    assert CastRegistry.load(cast_file, "series").character("C01").reference == str(clip.resolve())
    assert open_cast(RunOptions(cast_file=cast_file)).character("C01").reference == str(clip.resolve())
    result = runner.invoke(main, ["cast", "reference", str(cast_file), "C09", str(clip)])
    assert result.exit_code == 2 and "unknown character 'C09'" in result.output
    result = runner.invoke(main, ["cast", "reference", str(cast_file), "C01", str(_wav(tmp_path / "s.wav", 2.0))])
    assert result.exit_code == 2 and "lasts 2.0 s" in result.output
    result = runner.invoke(main, ["cast", "reference", str(cast_file), "C01", "--clear"])
    assert result.exit_code == 0
    assert CastRegistry.load(cast_file, "series").character("C01").reference == ""
