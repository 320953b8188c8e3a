"""The Wav2Lip-class backend's real loading and per-frame path, on a tiny ONNX model with Wav2Lip's I/O.

No Wav2Lip weights exist here, so the test builds a small generator itself (onnx.helper) with the
real signature: mel 1x1x80x16 + face 1x6x96x96 -> 1x3x96x96. It checks that onnxruntime loads it
through Wav2LipOnnx, that frames of the sample episode outside a talking span pass through
unchanged, and that inside one only the talking face's box is replaced, by the model's output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from localize.core.errors import ModelError
from localize.stages.picture.faces import iter_frames, track_faces
from localize.stages.picture.lipsync import (
    LipSyncProcessor, TalkingSpan, Wav2LipOnnx, mel_window, wav2lip_mel,
)
from localize.stages.picture.shots import detect_shots

from ..conftest import SAMPLE

pytestmark = pytest.mark.integration

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _tiny_wav2lip(path: Path, *, mel_shape=(1, 1, 80, 16)) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(0, 0.5, (3, 6, 1, 1)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["face", "w"], ["c"]),
        helper.make_node("ReduceMean", ["mel"], ["m"], keepdims=1),  # 1x1x1x1: the sound moves the output
        helper.make_node("Add", ["c", "m"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_wav2lip",
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, list(mel_shape)),
         helper.make_tensor_value_info("face", TensorProto.FLOAT, [1, 6, 96, 96])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 96, 96])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_missing_model_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCALIZE_WAV2LIP_MODEL", raising=False)
    with pytest.raises(ModelError, match="LOCALIZE_WAV2LIP_MODEL"):
        Wav2LipOnnx()
    with pytest.raises(ModelError, match="no such Wav2Lip ONNX model"):
        Wav2LipOnnx(tmp_path / "absent.onnx")


def test_a_model_without_wav2lip_inputs_is_refused(tmp_path: Path) -> None:
    backend = Wav2LipOnnx(_tiny_wav2lip(tmp_path / "wrong.onnx", mel_shape=(1, 1, 40, 16)))
    with pytest.raises(ModelError, match="not a Wav2Lip generator"):
        backend.prepare()


def test_wav2lip_mel_has_80_frames_a_second_in_range(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    mel = wav2lip_mel((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    assert mel.shape[0] == 80 and abs(mel.shape[1] - 81) <= 1
    assert mel.min() >= -4 and mel.max() <= 4
    assert mel_window(mel, 990).shape == (80, 16)  # padded past the end


def test_frames_change_only_in_the_talking_face_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _tiny_wav2lip(tmp_path / "wav2lip.onnx")
    monkeypatch.setenv("LOCALIZE_WAV2LIP_MODEL", str(model))
    audio = tmp_path / "dub.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE), "-ac", "1", "-ar", "16000", str(audio)], check=True)
    shots = detect_shots(SAMPLE, 10_000)
    tracks = track_faces(SAMPLE, shots)
    assert tracks.tracks, "the Haar cascade finds the speaker's face in the sample"
    face = tracks.tracks[0].id
    span = TalkingSpan(start_ms=3300, end_ms=3700, track=face)
    backend = Wav2LipOnnx()  # found through the environment variable
    proc = LipSyncProcessor(backend, tracks, [span], audio, audio_key="test")
    later = TalkingSpan(start_ms=3300, end_ms=3800, track=face)
    assert proc.cache_options() != LipSyncProcessor(backend, tracks, [later], audio, audio_key="test").cache_options()
    proc.prepare()
    try:
        seen = 0
        for index, t_ms, frame in iter_frames(SAMPLE, 100):
            if not 3000 <= t_ms < 4000:
                continue
            out = proc.process(frame, index, t_ms)
            assert out.shape == frame.shape and out.dtype == np.uint8
            box = proc.box(t_ms)
            if box is None:
                assert np.array_equal(out, frame)
                continue
            seen += 1
            x, y, w, h = box
            outside = np.ones(frame.shape[:2], dtype=bool)
            outside[y:y + h, x:x + w] = False
            assert np.array_equal(out[outside], frame[outside])
            pasted = out[y:y + h, x:x + w]
            assert not np.array_equal(pasted, frame[y:y + h, x:x + w])
            expected = backend.sync(frame[y:y + h, x:x + w], mel_window(proc._mel, t_ms))
            assert np.array_equal(pasted, expected)
        assert seen == 4 and proc.synced == 4  # 3300, 3400, 3500, 3600
    finally:
        proc.release()


def test_the_market_processor_redraws_only_the_lines_spoken_on_camera(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile as sf

    from localize.core.artifacts import DubLine, DubTrack, Line, Script
    from localize.core.cache import ArtifactStore
    from localize.core.markets import Market, PictureSettings
    from localize.core.stage import Built
    from localize.stages.picture.lipstage import lip_sync_processor
    from localize.stages.voice.tts.espeak import EspeakSynthesizer
    from localize.stages.audio.stage import open_source

    lines = (Line(id="L001", start_ms=0, end_ms=2600, text="a", speaker="SPEAKER_00"),  # off-screen voice
             Line(id="L002", start_ms=3320, end_ms=7780, text="b", speaker="SPEAKER_01"),
             Line(id="L003", start_ms=8380, end_ms=9820, text="c", speaker="SPEAKER_01"))
    script = Script(language="es", duration_ms=10_000, lines=lines, backend="test", model="test")
    dub_dir = tmp_path / "dub"
    dub_dir.mkdir()
    dubbed = []
    for ln, text in zip(lines, ("I get solids or parcels", "Well, here at school we have five doors", "but mostly")):
        EspeakSynthesizer().synthesize(text, "en-us", dub_dir / f"{ln.id}.wav")
        samples, rate = sf.read(dub_dir / f"{ln.id}.wav", dtype="float32")
        length = min(round(len(samples) * 1000 / rate), ln.duration_ms)
        dubbed.append(DubLine(id=ln.id, slot_start_ms=ln.start_ms, slot_end_ms=ln.end_ms, dub_start_ms=ln.start_ms,
                              dub_end_ms=ln.start_ms + length, natural_ms=length, speed=1.0, overflow_ms=0,
                              clip=f"{ln.id}.wav"))
    dub = Built("dubkey", DubTrack(language="en", backend="espeak", voice="en-us", sample_rate=rate, max_speed=1.25,
                                   lines=tuple(dubbed)), dub_dir)
    market = Market(tag="en-lips", name="test", language="en", picture=PictureSettings(lip_sync="wav2lip-onnx"))
    source = open_source(SAMPLE, need_video=True)
    store = ArtifactStore(tmp_path / "cache")
    monkeypatch.delenv("LOCALIZE_WAV2LIP_MODEL", raising=False)
    with pytest.raises(ModelError):  # before any work
        lip_sync_processor(market, source, script, dub, store)
    monkeypatch.setenv("LOCALIZE_WAV2LIP_MODEL", str(_tiny_wav2lip(tmp_path / "wav2lip.onnx")))
    proc = lip_sync_processor(market, source, script, dub, store)
    assert [(s.start_ms, s.track) for s in proc.spans] == [(3320, "F01"), (8380, "F01")]
    voice, _ = sf.read(proc.audio, dtype="float32")
    assert len(voice) >= 16_000 * 10 and np.abs(voice[int(16 * 3400):int(16 * 3900)]).max() > 0.05
    proc.prepare()
    try:
        frames = {t: (i, f) for i, t, f in iter_frames(SAMPLE, 500) if t in (1000, 4000)}
        off, on = frames[1000], frames[4000]
        assert np.array_equal(proc.process(off[1], off[0], 1000), off[1])  # the off-screen voice's line
        assert not np.array_equal(proc.process(on[1], on[0], 4000), on[1])
    finally:
        proc.release()
