"""Burned-in subtitle OCR, for real: subtitles burned into real video by libass, read back by RapidOCR.

The main episode burns the three Chinese cues of ../shared/media/subtitles/srt_lib/gb2312.srt
(27.0-36.57 s in the file) onto ../shared/media/video/talking_man_outdoors.mp4, whose picture
lasts 10 s. The cue times are therefore mapped linearly from [27.0 s, 36.57 s] onto
[0.5 s, 9.5 s] (a shift and a 0.94x scale), keeping their order, lengths ratio and the
back-to-back boundary between cues 2 and 3. The text is drawn in Noto Sans CJK SC, white
with a black outline, bottom-centred.

Thresholds, measured on this machine (PP-OCRv4 via rapidocr_onnxruntime 1.4.4, libass in
Debian's ffmpeg 5.1) and kept with a margin for other fonts/renderers/runtime builds:
- CER (jiwer.cer after dropping spaces and punctuation): measured 0.0 on every cue. Allowed:
  0.15 per cue (at most one wrong character in the shortest, 10-character cue) and 0.05 overall.
- Cue start/end error: measured at most 25 ms. The scan decodes the band every 50 ms and puts a
  boundary half-way between the last frame without and the first frame with the change
  (<= 25 ms), and the source frames are 33 ms apart, so the bound is about 58 ms: allowed 80 ms.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import jiwer
import pysubs2
import pytest

from localize.core.errors import MediaError
from localize.core.media.probe import probe
from localize.stages.script.ocr import OcrOptions, read_burned_subtitles
from localize.stages.render.subtitles import Cue, load_subtitles
from tests.conftest import SAMPLE, shared_media

pytestmark = pytest.mark.integration

FONT = "Noto Sans CJK SC"
PICTURE_MS = 10_000
CUE_CER_MAX = 0.15
OVERALL_CER_MAX = 0.05
TIMING_MAX_MS = 80


# --- building test episodes (also used by bench/bench_ocr.py) ----------------------------------


def font_available(family: str = FONT) -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", f":family={family}"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def fit_cues(cues: Sequence[Cue], *, start_ms: int = 500, end_ms: int = 9_500) -> tuple[Cue, ...]:
    """Map the cues' times linearly from [first start, last end] onto [start_ms, end_ms]."""
    first, last = cues[0].start_ms, max(c.end_ms for c in cues)
    scale = (end_ms - start_ms) / (last - first)
    return tuple(
        Cue(
            start_ms=round(start_ms + (c.start_ms - first) * scale),
            end_ms=round(start_ms + (c.end_ms - first) * scale),
            text=c.text,
        )
        for c in cues
    )


def gb2312_cues(loops: int = 1) -> tuple[Cue, ...]:
    """The gb2312.srt cues fitted into the 10 s picture, repeated every 10 s `loops` times."""
    fitted = fit_cues(load_subtitles(shared_media("subtitles/srt_lib/gb2312.srt")))
    return tuple(
        Cue(start_ms=c.start_ms + k * PICTURE_MS, end_ms=c.end_ms + k * PICTURE_MS, text=c.text)
        for k in range(loops) for c in fitted
    )


def burn(
    source: Path, cues: Sequence[Cue], out: Path, *, size: tuple[int, int], duration_ms: int,
    font_size: int, margin_v: int, colour: tuple[int, int, int] = (255, 255, 255),
    watermark: str = "", scale_to: tuple[int, int] | None = None,
) -> Path:
    """Burn `cues` into `source` (looped as needed) with libass; returns `out`."""
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(size[0]), str(size[1])
    style = subs.styles["Default"]
    style.fontname, style.fontsize = FONT, font_size
    style.primarycolor = pysubs2.Color(*colour, 0)
    style.outlinecolor, style.outline, style.shadow = pysubs2.Color(0, 0, 0, 0), 3, 1
    style.alignment, style.marginv = pysubs2.Alignment.BOTTOM_CENTER, margin_v
    for cue in cues:
        subs.events.append(pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=cue.text.replace("\n", r"\N")))
    if watermark:
        subs.styles["Mark"] = pysubs2.SSAStyle(
            fontname=FONT, fontsize=font_size // 2, primarycolor=pysubs2.Color(255, 255, 255, 90),
            outline=1, shadow=0, alignment=pysubs2.Alignment.BOTTOM_CENTER, marginv=margin_v // 4,
        )
        subs.events.append(pysubs2.SSAEvent(start=0, end=duration_ms, text=watermark, style="Mark"))
    ass = out.with_suffix(".ass")
    subs.save(str(ass))
    head = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    loops = -(-duration_ms // PICTURE_MS)
    if loops > 1:
        # Loop a video-only copy of the first 10 s: looping the source itself would leave a gap at
        # each turn (its container runs 14 s, its picture 10 s) that ffmpeg fills with a frozen frame.
        clip = out.with_name(f"{out.stem}.clip.mp4")
        subprocess.run([*head, "-i", str(source), "-t", f"{PICTURE_MS / 1000:.3f}", "-an", "-c:v", "copy", str(clip)],
                       check=True, capture_output=True)
        source, audio = clip, ["-an"]
    else:
        audio = ["-c:a", "aac", "-b:a", "96k"]
    # Frame n is shown at n / rate: the subtitles are drawn on the timeline the output will have.
    scale = f"scale={scale_to[0]}:{scale_to[1]}," if scale_to else ""
    vf = f"setpts=N/FRAME_RATE/TB,{scale}subtitles={ass.name}"
    argv = [
        *head, "-stream_loop", str(loops - 1), "-i", str(source), "-t", f"{duration_ms / 1000:.3f}", "-vf", vf,
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", *audio, out.name,
    ]
    subprocess.run(argv, cwd=out.parent, check=True, capture_output=True)  # cwd: no escaping of the .ass path
    return out


def build_gb2312_episode(out_dir: Path, loops: int = 1, *, vertical: bool = False) -> tuple[Path, tuple[Cue, ...]]:
    """The gb2312 cues burned onto talking_man_outdoors.mp4 (960x720), looped `loops` times.

    `vertical`: onto samples/episode.mp4 (the same man, 404x720) scaled to 1080x1920 instead, the
    shape of a microdrama, with the text scaled to match.
    """
    cues = gb2312_cues(loops)
    name = f"burned_gb2312_x{loops}{'_vertical' if vertical else ''}.mp4"
    if vertical:
        video = burn(
            SAMPLE, cues, out_dir / name, size=(1080, 1920), duration_ms=PICTURE_MS * loops,
            font_size=64, margin_v=260, scale_to=(1080, 1920),
        )
    else:
        video = burn(
            shared_media("video/talking_man_outdoors.mp4"), cues, out_dir / name,
            size=(960, 720), duration_ms=PICTURE_MS * loops, font_size=44, margin_v=60,
        )
    return video, cues


def comparable(text: str) -> str:
    """Text for CER: no spaces, no punctuation."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def cer(truth: str, hypothesis: str) -> float:
    truth, hypothesis = comparable(truth), comparable(hypothesis)
    if not truth:
        return 0.0 if not hypothesis else 1.0
    return float(jiwer.cer(truth, hypothesis)) if hypothesis else 1.0


def pair_cues(truth: Sequence[Cue], found: Sequence) -> list[tuple[Cue, object | None]]:
    """Each true cue with the found cue that overlaps it most in time (None if none does)."""
    pairs = []
    for t in truth:
        overlaps = [(min(t.end_ms, f.end_ms) - max(t.start_ms, f.start_ms), f) for f in found]
        best = max(overlaps, key=lambda o: o[0], default=(0, None))
        pairs.append((t, best[1] if best[0] > 0 else None))
    return pairs


# --- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gb2312_run(tmp_path_factory: pytest.TempPathFactory):
    if not font_available():
        pytest.skip(f"font {FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")
    video, truth = build_gb2312_episode(tmp_path_factory.mktemp("ocr"))
    advanced: list[int] = []
    track = read_burned_subtitles(video, OcrOptions(), progress_advance=advanced.append)
    return video, truth, track, advanced


def test_reads_every_burned_cue_with_low_cer(gb2312_run) -> None:
    _, truth, track, _ = gb2312_run
    assert len(track.cues) == len(truth), [c.text for c in track.cues]
    for t, f in pair_cues(truth, track.cues):
        assert f is not None, f"cue {t.text!r} not found"
        assert cer(t.text, f.text) <= CUE_CER_MAX, (t.text, f.text)
    overall = cer("".join(t.text for t in truth), "".join(c.text for c in track.cues))
    assert overall <= OVERALL_CER_MAX


def test_cue_times_are_close_to_the_burned_times(gb2312_run) -> None:
    _, truth, track, _ = gb2312_run
    for t, f in pair_cues(truth, track.cues):
        assert f is not None
        assert abs(f.start_ms - t.start_ms) <= TIMING_MAX_MS, (t, f)
        assert abs(f.end_ms - t.end_ms) <= TIMING_MAX_MS, (t, f)


def test_track_describes_band_boxes_and_model(gb2312_run) -> None:
    video, _, track, advanced = gb2312_run
    top, bottom = track.band
    # The text (rows 623-657) sits 60 px above the bottom of the 720 px picture; the band pads it
    # and leaves room above for a second line (room below is off by default: a taller strip made
    # PP-OCR drop the spaces between English words).
    assert 540 <= top < 623 and 657 < bottom <= 700
    for cue in track.cues:
        x, y, w, h = cue.box
        assert top <= y and y + h <= bottom and 0 <= x and x + w <= 960
        assert abs((x + w / 2) - 480) < 20  # centred
        assert 0.9 <= cue.confidence <= 1.0
    assert track.backend == "rapidocr" and "PP-OCRv4" in track.model
    assert track.frame_step_ms == 250 and track.frames_read >= 12
    assert sum(advanced) == OcrOptions().progress_total(probe(video).duration_ms)


def test_vertical_yellow_two_line_subtitles_beside_a_watermark(tmp_path: Path) -> None:
    """Lines written for this test, burned on the sample episode scaled to 1080x1920.

    It covers what the main episode does not: scaling down before reading, a two-line cue, yellow
    text, a 400 ms cue, a 200 ms gap shorter than a sample step, and a static watermark below the
    subtitles that must not be taken for them.
    """
    if not font_available():
        pytest.skip(f"font {FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")
    truth = (
        Cue(start_ms=200, end_ms=1400, text="你竟然敢背叛我"),
        Cue(start_ms=1400, end_ms=2600, text="我绝不会原谅你！"),
        Cue(start_ms=3000, end_ms=4200, text="等一下，\n你听我解释"),
        Cue(start_ms=4200, end_ms=5000, text="不必了"),
        Cue(start_ms=5400, end_ms=6600, text="三年前的那个晚上"),
        Cue(start_ms=6600, end_ms=7800, text="到底发生了什么？"),
        Cue(start_ms=8000, end_ms=8400, text="走！"),
        Cue(start_ms=8600, end_ms=9800, text="总裁，夫人她已经离开了"),
    )
    video = burn(
        SAMPLE, truth, tmp_path / "vertical.mp4", size=(1080, 1920), duration_ms=PICTURE_MS,
        font_size=64, margin_v=260, colour=(255, 225, 0), watermark="本故事纯属虚构", scale_to=(1080, 1920),
    )
    track = read_burned_subtitles(video)
    assert [comparable(c.text) for c in track.cues] == [comparable(t.text) for t in truth]
    assert "纯属虚构" not in "".join(c.text for c in track.cues)
    assert track.band is not None and track.band[1] < 1920 - 100  # the watermark sits below the band
    for t, f in zip(truth, track.cues):
        assert abs(f.start_ms - t.start_ms) <= TIMING_MAX_MS and abs(f.end_ms - t.end_ms) <= TIMING_MAX_MS, (t, f)


def test_video_without_subtitles_gives_no_cues_and_no_band() -> None:
    advanced: list[int] = []
    track = read_burned_subtitles(SAMPLE, progress_advance=advanced.append)
    assert track.cues == ()
    assert track.band is None
    assert track.frames_read == OcrOptions().probe_frames
    assert sum(advanced) == OcrOptions().progress_total(probe(SAMPLE).duration_ms)


def test_audio_only_input_is_a_media_error(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", str(wav)], check=True,
    )
    with pytest.raises(MediaError, match="no video stream"):
        read_burned_subtitles(wav)


# --- episode B with a second subtitle language and a watermark (also used by bench/bench_ocr.py) ----

WATERMARK = "微短剧 DRAMA+"


def build_bilingual_episode_b(out_dir: Path) -> tuple[Path, tuple[Cue, ...], tuple[Cue, ...]]:
    """../shared/media/drama/episode_B.mp4 with its English reference burned as a second subtitle row
    right under the Chinese one (Noto Sans CJK SC 40 px, white, black outline, as bilingual releases
    carry it), and a static watermark in the band's bottom-right corner for the whole episode.

    Returns (video, Chinese truth, English truth). The Chinese block is centred at row 1574 (its
    README); each English cue is placed about 10 px under that cue's last Chinese row.
    """
    drama = shared_media("drama")
    zh = load_subtitles(drama / "subtitles.zh.srt")
    en = load_subtitles(drama / "reference.en.srt")
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"], subs.info["WrapStyle"] = "1080", "1920", "0"
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.outline, style.shadow = FONT, 40, 3, 0
    style.primarycolor, style.outlinecolor = pysubs2.Color(255, 255, 255, 0), pysubs2.Color(0, 0, 0, 0)
    style.marginl = style.marginr = 60
    burned = pysubs2.load(str(drama / "subtitles.zh.srt"))  # its rows as burned
    for z, e in zip(burned, en, strict=True):
        rows = z.plaintext.count("\n") + 1
        top = 1574 + rows * 54 // 2 + 10  # the 60 px CJK rows are 54 px apart
        subs.events.append(pysubs2.SSAEvent(start=e.start_ms, end=e.end_ms, text=rf"{{\an8\pos(540,{top})}}{e.text}"))
    duration = probe(drama / "episode_B.mp4").duration_ms
    mark = rf"{{\an3\pos(1040,1640)\fs34\alpha&H40&}}{WATERMARK}"
    subs.events.append(pysubs2.SSAEvent(start=0, end=duration, text=mark))
    ass = out_dir / "bilingual.ass"
    subs.save(str(ass))
    out = out_dir / "episode_B_bilingual.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(drama / "episode_B.mp4"),
         "-vf", f"subtitles={ass.name}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20",
         "-c:a", "copy", out.name],
        cwd=out_dir, check=True, capture_output=True,
    )
    return out, tuple(zh), tuple(en)


def test_bilingual_episode_b_gives_chinese_and_english_cues_apart(tmp_path: Path) -> None:
    """The Chinese rows join without spaces, the English rows keep their word spaces, and the two
    languages are separate cues (the English ones become a translation, not the script)."""
    if not font_available():
        pytest.skip(f"font {FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")
    from localize.stages.script.ocr.merge import script_of

    video, zh, en = build_bilingual_episode_b(tmp_path)
    track = read_burned_subtitles(video)
    chinese = [c for c in track.cues if script_of(c.text) == "cjk"]
    english = [c for c in track.cues if script_of(c.text) == "latin"]
    assert len(chinese) == len(zh) and len(english) >= len(en) - 1
    assert not any(" " in c.text for c in chinese)  # rows joined without spaces
    # the watermark is static text, cut out even where the reader drew one box around it and a row
    assert not any("DRAMA" in c.text or "微短剧" in c.text for c in track.cues)
    assert cer("".join(t.text for t in zh), "".join(c.text for c in chinese)) <= 0.1
    # each picture is read again at its middle sample: the last cue's first English row was lost on the
    # sample read at the change, where the previous English cue still overlapped it
    assert "in other words" in english[-1].text.lower()
    words = " ".join(c.text for c in english).split()
    assert len(words) >= 0.8 * len(" ".join(t.text for t in en).split())  # word spaces kept
