"""Picture backends found by name (face swap, lip-sync, inpainting), the picture stage's Stage keys and
typed results, and the source's subtitles handed in instead of read from the script stage."""

from __future__ import annotations

import ast
import hashlib
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from localize.core import registry as registry_module
from localize.core.artifacts import DubLine, DubTrack, Line, OcrCue, OcrTrack, Script
from localize.core.cache import ArtifactStore
from localize.core.errors import UnknownNameError
from localize.core.markets import FaceSwap, Market, PictureSettings, RenderSettings
from localize.core.options import RunOptions
from localize.core.stage import Built, Keyed
from localize.stages.picture import lipstage
from localize.stages.picture.faces import FaceTrack, FaceTracks
from localize.stages.picture.faceswap import FACE_SWAPPERS, FaceSwapProcessor, make_swapper
from localize.stages.picture.frames import picture_key
from localize.stages.picture.inpaint import INPAINTERS, RemovalOptions, SubtitleRemover
from localize.stages.picture.lipstage import EpisodeFaces
from localize.stages.picture.lipsync import LIP_SYNCERS
from localize.stages.picture.market import check_picture, resolve_subtitles, subtitle_remover
from localize.stages.picture.mouth import MouthActivity

PICTURE = Path(__file__).resolve().parents[2] / "localize" / "stages" / "picture"
MODULE = "localize_test_picture_plugins"


class FlatInpainter:
    """Paints the mask pure green."""

    name = "flat"

    def model_version(self) -> str:
        return "flat-1"

    def inpaint(self, image, mask, radius):
        out = image.copy()
        out[mask > 0] = (0, 255, 0)
        return out


class FakeSwapper:
    made: list[FakeSwapper] = []

    @classmethod
    def model_version(cls, **options) -> str:
        return f"fake-{options.get('level', 0)}"

    def __init__(self, level: int = 0) -> None:
        self.level = level
        FakeSwapper.made.append(self)

    def set_target(self, target_bgr, target) -> None:
        self.target = target

    def swap(self, frame, face):
        return np.full_like(frame, self.level)


class FakeLipSync:
    name = "fake-lips"

    def model_version(self) -> str:
        return "fake-lips-1"

    def prepare(self) -> None: ...

    def sync(self, face, mel):
        return face

    def release(self) -> None: ...


@pytest.fixture
def plugins(monkeypatch):
    """A third-party package's backends, registered at runtime through the entry-point group."""
    mod = types.ModuleType(MODULE)
    mod.FlatInpainter, mod.FakeSwapper, mod.FakeLipSync = FlatInpainter, FakeSwapper, FakeLipSync
    monkeypatch.setitem(sys.modules, MODULE, mod)
    eps = [EntryPoint(name="inpaint.flat", value=f"{MODULE}:FlatInpainter", group="localize.backends"),
           EntryPoint(name="faceswap.fake", value=f"{MODULE}:FakeSwapper", group="localize.backends"),
           EntryPoint(name="lipsync.fake-lips", value=f"{MODULE}:FakeLipSync", group="localize.backends")]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps if group == "localize.backends" else [])
    FakeSwapper.made.clear()


def _track(*cues: tuple[int, int, tuple[int, int, int, int]]) -> OcrTrack:
    return OcrTrack(cues=tuple(OcrCue(start_ms=s, end_ms=e, text="字幕", box=b, confidence=0.9) for s, e, b in cues),
                    band=(40, 90), frame_step_ms=250, frames_read=10, backend="rapidocr", model="v4")


def _frame_with_text() -> np.ndarray:
    frame = np.full((120, 320, 3), 90, np.uint8)
    frame[60:80, 70:78] = 255  # a white stroke
    return frame


# --- inpainting --------------------------------------------------------------------------------


def test_a_registered_inpainter_is_used_by_name(plugins) -> None:
    track = _track((0, 1000, (60, 55, 200, 30)))
    remover = SubtitleRemover(track, "ocr", RemovalOptions(method="flat"))
    remover.prepare()
    try:
        out = remover.process(_frame_with_text(), 0, 500)
    finally:
        remover.release()
    assert (out[70, 74] == (0, 255, 0)).all()  # the stroke, painted by FlatInpainter
    assert (out[10, 10] == 90).all()  # outside the box
    assert picture_key("sha", [remover]) != picture_key("sha", [SubtitleRemover(track, "ocr")])


def test_an_unknown_inpainter_fails_listing_the_known() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown inpaint backend 'fast' \(known: ns, telea\)"):
        RemovalOptions(method="fast")
    assert {"telea", "ns"} <= set(INPAINTERS.names())


# --- face swap ---------------------------------------------------------------------------------


def _consented(tmp_path: Path, backend: str) -> FaceSwap:
    face = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(face), np.full((64, 64, 3), 128, np.uint8))
    sha = hashlib.sha256(face.read_bytes()).hexdigest()
    record = tmp_path / "face.consent.toml"
    record.write_text(f'face_sha256 = "{sha}"\nsubject = "Jane Doe"\ngranted_by = "Jane Doe"\n'
                      'granted = 2020-01-01\n[scope]\nseries = ["demo"]\nmarkets = ["*"]\npurpose = "dub"\n',
                      encoding="utf-8")
    return FaceSwap(character="SPEAKER_00", face=str(face), consent=str(record), backend=backend)


class _Landmarker:
    def faces(self, image, upsample: int = 0):
        from localize.stages.picture.landmarks import Face

        points = np.stack([np.linspace(10, 50, 68), np.linspace(10, 50, 68)], axis=1).astype(np.float32)
        return [Face(box=(10, 10, 50, 50), points=points)]


def test_a_registered_face_swapper_is_used_by_name(plugins, tmp_path: Path, monkeypatch) -> None:
    import localize.stages.picture.landmarks as landmarks

    monkeypatch.setattr(landmarks, "landmarker", lambda: _Landmarker())
    swap = _consented(tmp_path, "fake")
    proc = FaceSwapProcessor([swap], series="demo", market="en-US", backend_options={"level": 7})
    assert proc.backend == "fake" and proc.model_version() == "fake-7"
    proc.prepare()
    try:
        out = proc.process(np.zeros((64, 64, 3), np.uint8), 0, 0)
    finally:
        proc.release()
    assert len(FakeSwapper.made) == 1 and (out == 7).all()
    assert isinstance(make_swapper("fake"), FakeSwapper)
    other = FaceSwapProcessor([swap], series="demo", market="en-US", backend_options={"level": 8})
    assert proc.cache_options() != other.cache_options()


def test_an_unknown_face_swapper_fails_listing_the_known_before_any_work(tmp_path: Path) -> None:
    swap = _consented(tmp_path, "nope")
    with pytest.raises(UnknownNameError, match=r"unknown faceswap backend 'nope' \(known: classic, insightface\)"):
        FaceSwapProcessor([swap], series="demo", market="en-US")
    market = Market(tag="en-US", name="t", language="en", picture=PictureSettings(face_swap=(swap,)))
    with pytest.raises(UnknownNameError, match="classic, insightface"):
        check_picture(market, RunOptions(series="demo"))
    assert {"classic", "insightface"} <= set(FACE_SWAPPERS.names())


# --- lip-sync ----------------------------------------------------------------------------------


def _lips_case(tmp_path: Path, monkeypatch, name: str) -> tuple[Market, Script, Built[DubTrack], list[str]]:
    calls: list[str] = []
    tracks = FaceTracks(video="x", width=64, height=64, step_ms=200, detector="haar", tracks=(
        FaceTrack(id="F01", shot=0, start_ms=0, step_ms=200, boxes=((0, 0, 32, 32),) * 5, detections=5),))
    faces = EpisodeFaces(tracks=tracks, activity=MouthActivity(method="haar", curves=()))
    monkeypatch.setattr(lipstage, "episode_faces",
                        lambda *a, **k: calls.append("faces") or Built("faces-key", faces, tmp_path))
    monkeypatch.setattr(lipstage, "speaking_faces", lambda lines, tracks, activity: {"L001": "F01"})
    monkeypatch.setattr(lipstage, "dub_voice",
                        lambda *a, **k: calls.append("voice") or Built("voice-key", tmp_path / "v.wav", tmp_path))
    script = Script(language="zh", duration_ms=1000, backend="t", model="t",
                    lines=(Line(id="L001", start_ms=0, end_ms=900, text="你好"),))
    line = DubLine(id="L001", clip="L001.wav", slot_start_ms=0, slot_end_ms=900, dub_start_ms=100,
                   dub_end_ms=800, natural_ms=700, speed=1.0, overflow_ms=0)
    dub = Built("dub", DubTrack(language="en", backend="t", voice="v", sample_rate=16000, max_speed=1.3,
                                lines=(line,)), tmp_path)
    market = Market(tag="en-US", name="t", language="en", picture=PictureSettings(lip_sync=name))
    return market, script, dub, calls


def test_a_registered_lip_sync_backend_is_used_by_name(plugins, tmp_path: Path, monkeypatch) -> None:
    market, script, dub, calls = _lips_case(tmp_path, monkeypatch, "fake-lips")
    check_picture(market, RunOptions())
    proc = lipstage.lip_sync_processor(market, None, script, dub, ArtifactStore(tmp_path / "c"))  # type: ignore[arg-type]
    assert isinstance(proc.backend, FakeLipSync)
    assert [(s.start_ms, s.end_ms, s.track) for s in proc.spans] == [(100, 800, "F01")]
    assert proc.audio == tmp_path / "v.wav" and proc.audio_key == "voice-key" and calls == ["faces", "voice"]
    assert "wav2lip-onnx" in LIP_SYNCERS.names() and "fake-lips" in LIP_SYNCERS.names()


def test_an_unknown_lip_sync_backend_fails_listing_the_known_before_any_work(tmp_path: Path, monkeypatch) -> None:
    market, script, dub, calls = _lips_case(tmp_path, monkeypatch, "wav2lip")
    with pytest.raises(UnknownNameError, match=r"'wav2lip' \(known: wav2lip-onnx\); set picture.lip_sync"):
        check_picture(market, RunOptions())
    with pytest.raises(UnknownNameError, match="wav2lip-onnx"):
        lipstage.lip_sync_processor(market, None, script, dub, ArtifactStore(tmp_path / "c"))  # type: ignore[arg-type]
    assert calls == []  # no faces read, no voice built


# --- typed results -----------------------------------------------------------------------------


def test_dub_voice_is_a_built_wav_keyed_on_the_dub(tmp_path: Path) -> None:
    import soundfile as sf

    clip = tmp_path / "dub" / "L001.wav"
    clip.parent.mkdir()
    sf.write(clip, np.full(4800, 0.5, np.float32), 48000)
    line = DubLine(id="L001", clip="L001.wav", slot_start_ms=0, slot_end_ms=900, dub_start_ms=500,
                   dub_end_ms=600, natural_ms=100, speed=1.0, overflow_ms=0)
    track = DubTrack(language="en", backend="t", voice="v", sample_rate=48000, max_speed=1.3, lines=(line,))
    store = ArtifactStore(tmp_path / "cache")
    voice = lipstage.dub_voice(Built("dub-a", track, clip.parent), store, 1000)
    assert isinstance(voice, Built) and voice.value == voice.path / "voice.wav"
    samples, rate = sf.read(voice.value, dtype="float32")
    assert rate == 16000 and abs(samples[8000:9600].mean() - 0.5) < 0.01 and abs(samples[:7900]).max() == 0
    assert lipstage.dub_voice(Built("dub-b", track, clip.parent), store, 1000).key != voice.key


# --- the source's subtitles come in from the run -----------------------------------------------


def _market(subtitles: str, remove: str = "auto", language: str = "en") -> Market:
    return Market(tag="en-US", name="t", language=language, render=RenderSettings(subtitles=subtitles),
                  picture=PictureSettings(remove_source_subtitles=remove))


def test_subtitle_removal_reads_the_track_it_is_given() -> None:
    track = _track((0, 1000, (60, 55, 200, 30)))
    remover = subtitle_remover(_market("burned"), RunOptions(), lambda: Keyed("ocr-key", track))
    assert remover is not None and remover.track is track and remover.track_key == "ocr-key"
    assert subtitle_remover(_market("burned"), RunOptions(), lambda: Keyed("", None)) is None
    assert subtitle_remover(_market("soft"), RunOptions(), _never) is None  # not read when not wanted


def _never() -> Keyed[OcrTrack | None]:
    raise AssertionError("the subtitles were read")


def test_auto_subtitles_are_decided_on_the_track_given_and_not_read_for_the_same_language() -> None:
    source = types.SimpleNamespace(info=types.SimpleNamespace(has_video=True))
    chinese = _track((0, 1000, (60, 55, 200, 30)))
    got = resolve_subtitles(_market("auto"), source, "zh", RunOptions(), lambda: Keyed("k", chinese))  # type: ignore[arg-type]
    assert got.render.subtitles == "both"
    same = resolve_subtitles(_market("auto", language="zh"), source, "zh", RunOptions(), _never)  # type: ignore[arg-type]
    assert same.render.subtitles == "soft"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_picture_module_imports_the_script_stage_or_keys_by_hand() -> None:
    for path in sorted(PICTURE.glob("*.py")):
        assert "localize.stages.script.stage" not in _imports(path), path.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "stage_key" not in calls, path.name
        keys = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "version"}
        assert not keys, f"{path.name} puts a 'version' into options by hand"
