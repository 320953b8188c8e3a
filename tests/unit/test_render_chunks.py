"""The chunk grid of a render, its cache keys and the ffmpeg argv that encodes a run of chunks."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pysubs2
import pytest

from localize.core.errors import ToolFailedError
from localize.stages.render.chunks import (
    Chunk,
    Frames,
    _runs,
    chunk_argv,
    chunk_keys,
    concat_list,
    plan,
    probe_frames,
)
from localize.stages.render.video import RenderSpec

NTSC = Fraction(30000, 1001)


def test_plan_cuts_every_four_seconds_and_keeps_the_rest_in_the_last_chunk():
    assert plan(Frames(count=300, rate=Fraction(30))) == [
        Chunk(index=0, first=0, count=120), Chunk(index=1, first=120, count=120), Chunk(index=2, first=240, count=60)]
    ntsc = plan(Frames(count=1398, rate=NTSC))
    assert [c.count for c in ntsc[:-1]] == [120] * 11 and ntsc[-1] == Chunk(index=11, first=1320, count=78)
    assert plan(Frames(count=5, rate=Fraction(25))) == [Chunk(index=0, first=0, count=5)]


def test_runs_group_neighbouring_missing_chunks():
    chunks = plan(Frames(count=600, rate=Fraction(30)))  # 5 chunks
    runs = _runs(chunks, [True, True, False, True, False])
    assert [[c.index for c in run] for run in runs] == [[0, 1], [3]]
    assert _runs(chunks, [False] * 5) == []


def test_concat_list_quotes_paths():
    text = concat_list([Path("/cache/a/chunk.ts"), Path("/it's/chunk.ts")])
    assert text.splitlines() == ["ffconcat version 1.0", "file '/cache/a/chunk.ts'", "file '/it'\\''s/chunk.ts'"]


def _spec(tmp_path: Path, events: list[tuple[int, int, str]], **kw) -> RenderSpec:
    subs = pysubs2.SSAFile()
    for start, end, text in events:
        subs.append(pysubs2.SSAEvent(start=start, end=end, text=text))
    burn = tmp_path / f"subs-{len(list(tmp_path.iterdir()))}.ass"
    subs.save(str(burn))
    return RenderSpec(source=Path("picture.mp4"), audio=Path("mix.wav"), subtitles=Path("s.srt"), out=Path("o.mp4"),
                      language="en", label_text="AI", label_file=None, soft=False, burn=burn, **kw)


def test_a_chunk_key_changes_only_where_the_changed_line_is_on_screen(tmp_path):
    frames = Frames(count=360, rate=Fraction(30))  # chunks 0-4 s, 4-8 s, 8-12 s
    chunks = plan(frames)
    base = chunk_keys(_spec(tmp_path, [(500, 2500, "one"), (4500, 9000, "two")]), chunks, frames, "pic")
    edited = chunk_keys(_spec(tmp_path, [(500, 2500, "one"), (4500, 9000, "TWO")]), chunks, frames, "pic")
    assert [a == b for a, b in zip(base, edited, strict=True)] == [True, False, False]
    # A line ending on a chunk's first frame, within a frame of it, counts as shown there.
    edge = chunk_keys(_spec(tmp_path, [(500, 4010, "one"), (4500, 9000, "two")]), chunks, frames, "pic")
    assert [a == b for a, b in zip(base, edge, strict=True)] == [False, False, True]
    assert len(set(base)) == 3
    assert chunk_keys(_spec(tmp_path, [(500, 2500, "one"), (4500, 9000, "two")]), chunks, frames, "other") != base
    assert chunk_keys(_spec(tmp_path, [(500, 2500, "one"), (4500, 9000, "two")], crf=23), chunks, frames,
                      "pic") != base


def test_chunk_argv_seeks_to_the_run_and_forces_idr_keyframes_on_the_grid(tmp_path):
    frames = Frames(count=360, rate=Fraction(30))
    chunks = plan(frames)
    spec = _spec(tmp_path, [(500, 2500, "one")])
    argv = chunk_argv(spec, chunks[1:], frames, tmp_path)
    joined = " ".join(argv)
    assert "-ss 3.983333" in joined and "-copyts" in joined  # half a frame before frame 120
    assert argv.index("-ss") < argv.index("-i")
    assert "-frames:v 240" in joined and "-segment_frames 120" in joined and "-segment_start_number 1" in joined
    assert "expr:eq(mod(n\\,120)\\,0)" in joined or "expr:eq(mod(n,120),0)" in joined
    assert "-forced-idr 1" in joined and f"ass={spec.burn}" in joined
    first = chunk_argv(spec, chunks[:1], frames, tmp_path)
    assert "-ss" not in first and "-segment_frames" not in first
    h265 = chunk_argv(_spec(tmp_path, [], codec="h265"), chunks[:1], frames, tmp_path)
    assert "libx265" in h265 and "open-gop=0:log-level=error" in h265


def _video(path: Path, *filters: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=30:duration=2",
                    *filters, "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    return path


def test_probe_frames_accepts_only_a_constant_rate_from_zero(tmp_path):
    assert probe_frames(_video(tmp_path / "cfr.mp4")) == Frames(count=60, rate=Fraction(30))
    vfr = _video(tmp_path / "vfr.mp4", "-vf", "setpts='PTS+if(gt(N,30),0.2/TB,0)'", "-vsync", "vfr")
    assert probe_frames(vfr) is None


@pytest.mark.parametrize("bad", ["", "not a video"])
def test_probe_frames_of_a_broken_file_fails_clearly(tmp_path, bad):
    path = tmp_path / "x.mp4"
    path.write_text(bad)
    with pytest.raises(ToolFailedError, match="counting the frames"):
        probe_frames(path)


def test_a_band_only_picture_is_drawn_over_the_source_and_both_seek_together(tmp_path):
    frames = Frames(count=360, rate=Fraction(30))
    spec = _spec(tmp_path, [(500, 2500, "one")], overlay=Path("strip.mp4"), overlay_x=0, overlay_y=1400)
    argv = chunk_argv(spec, plan(frames)[2:], frames, tmp_path)
    inputs = [i for i, a in enumerate(argv) if a == "-i"]
    assert [argv[i + 1] for i in inputs] == ["picture.mp4", "strip.mp4"]
    assert [sorted(argv[i - 3:i]) for i in inputs] == [["-copyts", "-ss", "7.983333"]] * 2
    graph = argv[argv.index("-filter_complex") + 1]
    assert "overlay=" in graph and "x=0:y=1400" in graph and graph.index("overlay") < graph.index("ass=")
    keys = chunk_keys(spec, plan(frames), frames, "pic")
    assert keys != chunk_keys(_spec(tmp_path, [(500, 2500, "one")]), plan(frames), frames, "pic")
