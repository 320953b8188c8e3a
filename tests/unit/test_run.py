"""The run's orchestration (localize/run.py): defects of the order of stages and of its entry points.

The stages themselves are fakes here; each has its own tests."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest

import localize
from localize import run
from localize.core.artifacts import DubLine, DubTrack, Line, Script, TargetLine, Translation
from localize.core.cache import ArtifactStore
from localize.core.errors import LocalizeError
from localize.core.markets import get_market, load_markets
from localize.core.options import RunOptions
from localize.core.progress import NullProgress
from localize.core.stage import Built, Keyed
from localize.stages.audio.stage import Audio, Source
from localize.stages.translate.overrides import Reviewed


def test_relocalize_of_a_folder_run_did_not_write_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(LocalizeError) as err:  # was a TypeError: InputError called with one argument
        localize.relocalize(tmp_path, [])
    assert str(tmp_path) in str(err.value) and "run.json" in str(err.value) and "localize run" in str(err.value)


def _track(speed: float) -> DubTrack:
    line = DubLine(id="L001", clip="L001.wav", slot_start_ms=0, slot_end_ms=900, dub_start_ms=0, dub_end_ms=900,
                   natural_ms=900, speed=speed, overflow_ms=0)
    return DubTrack(language="en", backend="fake", voice="v", sample_rate=48000, max_speed=1.3, lines=(line,))


def test_with_lip_alignment_the_backcheck_scores_the_aligned_dub(tmp_path: Path, monkeypatch) -> None:
    """Lip alignment re-stretches clips: the score must describe the audio that is in the render."""
    script = Script(language="zh", duration_ms=1000, backend="fake", model="fake",
                    lines=(Line(id="L001", start_ms=0, end_ms=900, text="你好"),))
    translation = Translation(source_language="zh", target_language="en",
                              lines=(TargetLine(id="L001", text="Hello", source_text="你好", route=("fake",)),))
    plain, aligned = Built("dub", _track(1.0), tmp_path / "dub"), Built("aligned", _track(1.2), tmp_path / "al")
    monkeypatch.setattr(run, "cast_market_voices", lambda *a, **k: {})
    monkeypatch.setattr(run, "dub_market", lambda *a, **k: plain)
    monkeypatch.setattr(run, "remember_pitch", lambda *a, **k: None)
    import localize.stages.picture.lipstage as lipstage

    monkeypatch.setattr(lipstage, "lip_align_market", lambda *a, **k: aligned)
    scored = []
    monkeypatch.setattr(run, "backcheck_market", lambda market, dub, *a: scored.append(dub) or {"L001": 0.0})
    market = get_market("en-US", load_markets())
    market = msgspec.structs.replace(market, picture=msgspec.structs.replace(market.picture, lip_align=True))
    episode = run.Episode(source=Source(path=tmp_path / "ep.mp4", info=None, sha256="s"),  # type: ignore[arg-type]
                          audio=Audio(key="a", asr=tmp_path / "a.wav", bed=tmp_path / "b.wav"),
                          script=Keyed("script", script), background=None, store=ArtifactStore(tmp_path / "c"),
                          options=RunOptions(), progress=NullProgress())
    voice = SimpleNamespace(synthesizer=SimpleNamespace(name="piper"))  # a backend that does not clone
    plan = run._Plan(markets=(market,), voices={"en-US": voice}, credentials=None, references={},  # type: ignore[dict-item]
                     voice_consent={})
    dub, scores = run._dub(episode, market, plan, Keyed("tr", translation), Reviewed("tr", translation))
    assert dub is aligned and scored == [aligned] and scores == {"L001": 0.0}


def test_every_entry_point_caches_in_the_same_place(tmp_path: Path, monkeypatch) -> None:
    """transcribe, prepare_episode and localize_episode used three different defaults (one an error)."""
    monkeypatch.setenv("LOCALIZE_CACHE_DIR", str(tmp_path / "shared"))
    roots = []

    def fake_shared(path, options, store, progress):
        roots.append(store.root)
        raise LocalizeError("stop here")

    monkeypatch.setattr(run, "_shared", fake_shared)
    for call in (lambda: localize.prepare_episode(tmp_path / "ep.mp4"),
                 lambda: run.localize_episode(tmp_path / "ep.mp4", ["en-US"], tmp_path / "out")):
        monkeypatch.setattr(run, "_plan", lambda *a: None)
        with pytest.raises(LocalizeError, match="stop here"):
            call()
    assert roots == [tmp_path / "shared", tmp_path / "shared"]
    assert RunOptions().cache_root() == tmp_path / "shared"
    assert RunOptions(cache_dir=tmp_path / "mine").cache_root() == tmp_path / "mine"
    monkeypatch.delenv("LOCALIZE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert RunOptions().cache_root() == tmp_path / "xdg" / "localize" / "artifacts"
