"""A burned render encoded in cached chunks: the same frames as one pass, and an edited line re-encodes only
the chunk it is on screen in while every other frame stays the same bytes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pytest

from localize.core import jsonio
from localize.core.cache import ArtifactStore
from localize.core.markets import builtin_markets
from localize.stages.render.chunks import CHUNKS_FILE, ChunkCache, ChunkReport
from localize.stages.render.market import render_market_video
from localize.stages.render.subtitles import Cue
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration

CUES = [Cue(start_ms=500, end_ms=2500, text="The first line", id="l1"),
        Cue(start_ms=4500, end_ms=6500, text="The second line", id="l2"),
        Cue(start_ms=8200, end_ms=9500, text="The third line", id="l3")]
SIZE = (404, 720)
FRAMES = 300  # 10 s at 30 fps: chunks of 4, 4 and 2 s (frames 0-119, 120-239, 240-299)


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mix") / "mix.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE), "-vn", "-ac", "2", "-ar", "48000", str(path)],
                   check=True)
    return path


def _market(codec: str = "h264"):
    market = builtin_markets()["en-US"]
    return msgspec.structs.replace(market, render=msgspec.structs.replace(market.render, subtitles="burned",
                                                                          codec=codec))


def _render(out: Path, mix: Path, cues=CUES, store: ArtifactStore | None = None, codec: str = "h264") -> Path:
    out.mkdir(parents=True)
    chunks = ChunkCache(store, "picture-key") if store is not None else None
    return render_market_video(_market(codec), picture=SAMPLE, audio=mix, cues=cues, out_dir=out, title="t",
                               chunks=chunks)


def _frames(video: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE[1], SIZE[0])


def _drawn_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame, how many pixels differ by more than encoding noise does (it stays under 70 grey levels
    here; a letter drawn or not differs by 150-255)."""
    return (np.abs(a.astype(np.int16) - b.astype(np.int16)) > 96).sum(axis=(1, 2))


def _report(video: Path) -> ChunkReport:
    return jsonio.load(ChunkReport, video.parent / CHUNKS_FILE)


def _decodes_cleanly(video: Path) -> None:
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "null", "-"], capture_output=True,
                          text=True, check=True)
    assert proc.stderr.strip() == ""


def _keyframes(video: Path) -> list[int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame",
                          "-of", "json", str(video)], capture_output=True, text=True, check=True).stdout
    return [i for i, frame in enumerate(json.loads(out)["frames"]) if frame["key_frame"] == 1]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory, mix: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("renders")
    store = ArtifactStore(d / "cache")
    edited = [CUES[0], Cue(start_ms=4500, end_ms=6500, text="An edited second line", id="l2"), CUES[2]]
    return {"one pass": _render(d / "one", mix),
            "chunked": _render(d / "chunked", mix, store=store),
            "again": _render(d / "again", mix, store=store),
            "edited": _render(d / "edited", mix, cues=edited, store=store),
            "edited one pass": _render(d / "edited-one", mix, cues=edited)}


def test_chunked_render_has_the_frames_streams_and_keyframes_of_one_pass(renders):
    one, chunked = renders["one pass"], renders["chunked"]
    assert _report(chunked) == ChunkReport(seconds=4, chunks=3, encoded=3)
    assert not (one.parent / CHUNKS_FILE).exists()
    _decodes_cleanly(chunked)
    probe_one, probe_chunked = ffprobe(one), ffprobe(chunked)
    kinds = [(s["codec_type"], s["codec_name"]) for s in probe_chunked["streams"]]
    assert kinds == [(s["codec_type"], s["codec_name"]) for s in probe_one["streams"]]
    assert abs(float(probe_chunked["format"]["duration"]) - float(probe_one["format"]["duration"])) < 0.05
    assert probe_chunked["format"]["tags"]["ai_generated"] == "true"
    a, b = _frames(one), _frames(chunked)
    assert len(a) == len(b) == FRAMES
    # The same picture, subtitles on the same frames: only the encoder's choices differ.
    apart = _drawn_apart(a, b)
    assert apart.max() < 20, apart.argmax()
    assert {0, 120, 240} <= set(_keyframes(chunked))
    assert not list((chunked.parent).glob("*.ffconcat"))


def test_a_render_of_the_same_lines_encodes_no_chunk(renders):
    assert _report(renders["again"]).encoded == 0
    assert hashlib.sha256(renders["again"].read_bytes()).digest() == hashlib.sha256(
        renders["chunked"].read_bytes()).digest()


def test_an_edited_line_re_encodes_only_its_chunk(renders):
    before, after, truth = _frames(renders["chunked"]), _frames(renders["edited"]), _frames(renders["edited one pass"])
    assert _report(renders["edited"]) == ChunkReport(seconds=4, chunks=3, encoded=1)
    _decodes_cleanly(renders["edited"])
    assert len(after) == FRAMES
    # Chunks 0 and 2 are the same bytes; chunk 1 (4-8 s) shows the edit where the one-pass render does.
    assert np.array_equal(before[:120], after[:120]) and np.array_equal(before[240:], after[240:])
    changed = _drawn_apart(after, before) > 200
    assert changed[135:195].all() and not changed[:120].any() and not changed[200:].any()
    apart = _drawn_apart(after, truth)
    assert apart.max() < 20, apart.argmax()


def test_h265_renders_in_chunks_too(tmp_path, mix):
    store = ArtifactStore(tmp_path / "cache")
    video = _render(tmp_path / "h265", mix, store=store, codec="h265")
    assert _report(video).encoded == 3
    _decodes_cleanly(video)
    stream = ffprobe(video)["streams"][0]
    assert (stream["codec_name"], stream["codec_tag_string"]) == ("hevc", "hvc1")
    edited = _render(tmp_path / "edited", mix, cues=CUES[:2], store=store, codec="h265")
    assert _report(edited).encoded == 1  # the third line removed: the last chunk only
    _decodes_cleanly(edited)
    frames = _frames(edited)
    assert len(frames) == FRAMES and np.array_equal(frames[:240], _frames(video)[:240])
