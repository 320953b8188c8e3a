#!/usr/bin/env python3
"""Build samples/episode_zh.mp4: a short, redistributable Mandarin microdrama-style episode.

Usage:
    python3 samples/build_episode_zh.py SOURCES_DIR [OUT_DIR]    (OUT_DIR defaults to samples/)

Needs only Python 3.11+ (standard library) and ffmpeg/ffprobe with libass, plus the font
"Noto Sans CJK SC" Bold (Debian: fonts-noto-cjk) and the Debian package asterisk-moh-opsound-wav.
Writes OUT_DIR/episode_zh.mp4, OUT_DIR/episode_zh.truth.json and OUT_DIR/episode_zh.zh.srt.

What it makes: 720x1280 (9:16), H.264 + AAC 48 kHz, faststart, ~25 s. Five read Mandarin sentences by
two real speakers (AISHELL-1 recordings, no synthetic speech), a music-only intro of 1.5 s, gaps of
0.5-1.2 s between lines, a music bed 19 LU under the speech, and burned-in simplified-Chinese subtitles
(each line's AISHELL-1 reference transcript, white with a black outline, Noto Sans CJK SC Bold, centred
at 83 % of the height) on screen exactly while the line is spoken. The picture is a man talking to camera
outdoors (a vertical phone video that the source pillarboxes in 960x720: its 404x720 picture is cropped
and scaled to 720x1280), played forward, backward, forward. The voices are NOT lip-synced to the face.

Speech on/off (start_ms/end_ms, 10 ms grid): each clip is resampled to 48 kHz, high-passed at 100 Hz
(4th order; removes the recordings' room rumble; this is the audio that is mixed), level-matched, then,
for measuring only, high-passed again at 150 Hz (ignores low mouth/handling thumps) and split into 10 ms
frames; a frame is "loud" when its energy is above the clip's 90th-percentile frame energy minus 24 dB;
speech starts at the first of 3 loud frames in a row and ends after the last of 3 loud frames in a row.
Each clip is cut 200 ms before its speech start and 250 ms after its speech end (12 ms fades) and placed
so that its speech start lands on the planned time. The build then re-measures every line on the
finished speech stem and stops if anything moved.

Sources: put these files in SOURCES_DIR (sha256 is checked; the build stops on a mismatch). For each
repository: git clone https://github.com/<owner>/<name>, then git show <commit>:<path> > SOURCES_DIR/<file>.

  BAC009S0764W0121.wav, BAC009S0764W0122.wav  (AISHELL-1 test speaker S0764)
      from https://github.com/xingchensong/S3Tokenizer (Apache-2.0) at commit
      2abe1c503b863ec8c6ee7e98f86e25cd01f5f587, paths s3tokenizer/assets/<name>:
        git clone https://github.com/xingchensong/S3Tokenizer && cd S3Tokenizer
        git show 2abe1c503b863ec8c6ee7e98f86e25cd01f5f587:s3tokenizer/assets/BAC009S0764W0121.wav > $SOURCES_DIR/BAC009S0764W0121.wav
        (W0121 is byte-identical to FireRedTeam/FireRedASR examples/wav/BAC009S0764W0121.wav.)
  BAC009S0002W0122.wav, BAC009S0002W0123.wav, BAC009S0002W0124.wav  (AISHELL-1 train speaker S0002)
      from https://github.com/mindspore-lab/mindaudio (Apache-2.0) at commit
      4c7b609f09211bf3c699b97ebbfcced022ffcdc9, paths tests/samples/ASR/<name>:
        git show 4c7b609f09211bf3c699b97ebbfcced022ffcdc9:tests/samples/ASR/BAC009S0002W0122.wav > $SOURCES_DIR/BAC009S0002W0122.wav
  Video.mp4  (10 s, 960x720, a man speaking to camera outdoors)
      from https://github.com/R3gm/SoniTranslate (Apache-2.0) at commit
      e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300, path assets/Video.mp4:
        git show e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300:assets/Video.mp4 > $SOURCES_DIR/Video.mp4
  macroform-the_simplicity.wav  (music; CC BY-SA 3.0, Paul Shuler (Macroform))
      from the Debian package asterisk-moh-opsound-wav (2.03-1.1): apt-get install asterisk-moh-opsound-wav;
      taken from /usr/share/asterisk/moh/ when it is not in SOURCES_DIR. Credits:
      /usr/share/doc/asterisk-moh-opsound-wav/copyright.

Rebuilding gives byte-identical episode_zh.truth.json, episode_zh.zh.srt and audio stream; the H.264
bitstream (and so, invisibly, the decoded pictures) differs slightly from run to run: libx264 here is not
bit-reproducible.
Built with Debian 12's ffmpeg 5.1 (libx264, libass).

The recordings are AISHELL-1 (OpenSLR 33, Apache-2.0) utterances; AISHELL-1 is a corpus of read
sentences. The reference transcripts used as subtitles are AISHELL-1's, as quoted in Apache-2.0
repositories: S0764 W0121/W0122 in wenet-e2e/west@ac74b1110a23a9db5c786fd8db56ea71d9e33436 README.md
(W0121 also in FireRedASR examples/wav/text); S0002 W0122-W0124 in
wenet-e2e/wenet@015469960db73eb19c49a48c020d5ac9db69bae5 docs/tutorial_aishell.md.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SR = 48000
FRAME = SR // 100  # 10 ms
LEAD_MS = 200  # audio kept before speech start
TAIL_MS = 250  # audio kept after speech end
FADE_MS = 12
# The recordings carry low-frequency room rumble (10-20 dB under the voice); a 4th-order high-pass at
# 100 Hz removes it from the audio that is mixed (both voices are above 140 Hz).
SPEECH_FILTER = "highpass=f=100:poles=2,highpass=f=100:poles=2"
# Speech on/off is measured on the (level-matched) speech further high-passed at 150 Hz: this ignores the
# low thumps (100-250 Hz, mouth/handling noise) after some sentences but keeps nasal endings such as 钉.
DETECT_FILTER = "highpass=f=150:poles=2,highpass=f=150:poles=2"
SPEECH_LUFS = -18.0
MUSIC_UNDER_LU = 19.0
INTRO_MS = 1500
OUTRO_MS = 1500
W, H, FPS = 720, 1280, 30
SUB_Y = round(H * 0.83)  # centre of the subtitle block
FONT = "Noto Sans CJK SC"
FONT_PX = 46

SOURCES = {
    "BAC009S0764W0121.wav": {
        "sha256": "46dbc998c9d1d48111267c40741dd3200f2e5bcf4075f8c4c97f4451160dce50",
        "origin": "xingchensong/S3Tokenizer@2abe1c503b863ec8c6ee7e98f86e25cd01f5f587:s3tokenizer/assets/BAC009S0764W0121.wav",
        "licence": "AISHELL-1 utterance (corpus Apache-2.0, OpenSLR 33); repository Apache-2.0",
        "text_from": "wenet-e2e/west@ac74b1110a23a9db5c786fd8db56ea71d9e33436:README.md (also FireRedTeam/FireRedASR examples/wav/text)",
    },
    "BAC009S0764W0122.wav": {
        "sha256": "5760c7ace0923a499f605d373011c7aaf658e304a0999a493c63669c756384e1",
        "origin": "xingchensong/S3Tokenizer@2abe1c503b863ec8c6ee7e98f86e25cd01f5f587:s3tokenizer/assets/BAC009S0764W0122.wav",
        "licence": "AISHELL-1 utterance (corpus Apache-2.0, OpenSLR 33); repository Apache-2.0",
        "text_from": "wenet-e2e/west@ac74b1110a23a9db5c786fd8db56ea71d9e33436:README.md",
    },
    "BAC009S0002W0122.wav": {
        "sha256": "71bc9f1a1cdd3ba115c0fc6cb10c67cfdafa2e104df4c92dd6f29f962b82c0f1",
        "origin": "mindspore-lab/mindaudio@4c7b609f09211bf3c699b97ebbfcced022ffcdc9:tests/samples/ASR/BAC009S0002W0122.wav",
        "licence": "AISHELL-1 utterance (corpus Apache-2.0, OpenSLR 33); repository Apache-2.0",
        "text_from": "wenet-e2e/wenet@015469960db73eb19c49a48c020d5ac9db69bae5:docs/tutorial_aishell.md",
    },
    "BAC009S0002W0123.wav": {
        "sha256": "350b0b604646bbb285c4284d0083bd43d0fc75fa32800e6ededb9ac70f8ece3f",
        "origin": "mindspore-lab/mindaudio@4c7b609f09211bf3c699b97ebbfcced022ffcdc9:tests/samples/ASR/BAC009S0002W0123.wav",
        "licence": "AISHELL-1 utterance (corpus Apache-2.0, OpenSLR 33); repository Apache-2.0",
        "text_from": "wenet-e2e/wenet@015469960db73eb19c49a48c020d5ac9db69bae5:docs/tutorial_aishell.md",
    },
    "BAC009S0002W0124.wav": {
        "sha256": "85e184e8aed8c40a94a4666e8d021ef41901c8d566d928951d54e6a540aaaaca",
        "origin": "mindspore-lab/mindaudio@4c7b609f09211bf3c699b97ebbfcced022ffcdc9:tests/samples/ASR/BAC009S0002W0124.wav",
        "licence": "AISHELL-1 utterance (corpus Apache-2.0, OpenSLR 33); repository Apache-2.0",
        "text_from": "wenet-e2e/wenet@015469960db73eb19c49a48c020d5ac9db69bae5:docs/tutorial_aishell.md",
    },
    "Video.mp4": {
        "sha256": "e03c405628162038a10679372d43ca0e38e40507e1e5fce8b6d252ec3ca4dbf8",
        "origin": "R3gm/SoniTranslate@e4811ab1ffb0d29dd98f4bbd3cb97bdf13a2e300:assets/Video.mp4",
        "licence": "repository Apache-2.0",
    },
}
MUSIC = "macroform-the_simplicity.wav"
MUSIC_SYSTEM_DIR = Path("/usr/share/asterisk/moh")
MUSIC_OFFSET_S = 0.0

SPEAKERS = {
    "A": {"aishell_speaker": "S0764", "note": "AISHELL-1 test speaker S0764; median F0 about 230 Hz (judged female)"},
    "B": {"aishell_speaker": "S0002", "note": "AISHELL-1 train speaker S0002; median F0 about 172 Hz, narrow range (gender not documented here; judged female, low voice)"},
}

# id, speaker, clip, reference text (AISHELL-1), subtitle rows as burned, our English, gap before (ms)
LINES = [
    (1, "B", "BAC009S0002W0124.wav", "自六月底呼和浩特市率先宣布取消限购后", ["自六月底呼和浩特市", "率先宣布取消限购后"],
     "Ever since Hohhot became the first to scrap its purchase limits at the end of June…", INTRO_MS),
    (2, "A", "BAC009S0764W0122.wav", "一二线城市虽然也处于调整中", ["一二线城市虽然也处于调整中"],
     "First- and second-tier cities are going through a correction too, but…", 900),
    (3, "A", "BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况", ["甚至出现交易几乎停滞的情况"],
     "in some places sales have even ground almost to a halt.", 500),
    (4, "B", "BAC009S0002W0122.wav", "而对楼市成交抑制作用最大的限购", ["而对楼市成交", "抑制作用最大的限购"],
     "And purchase limits, which do the most to hold back home sales,", 1200),
    (5, "B", "BAC009S0002W0123.wav", "也成为地方政府的眼中钉", ["也成为地方政府的眼中钉"],
     "have become a thorn in the side of local governments, too.", 500),
]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decode(path: Path, offset_s: float = 0.0, dur_s: float | None = None, af: str | None = None) -> array.array:
    """Any audio file -> 48 kHz mono float samples (array 'f'), optionally through an ffmpeg filter."""
    cmd = ["ffmpeg", "-v", "error", "-ss", f"{offset_s:.3f}"]
    if dur_s is not None:
        cmd += ["-t", f"{dur_s:.3f}"]
    cmd += ["-i", str(path), "-vn", "-ac", "1", "-ar", str(SR)]
    if af:
        cmd += ["-af", af]
    cmd += ["-f", "f32le", "-"]
    out = run(cmd).stdout
    a = array.array("f")
    a.frombytes(out)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def write_wav(path: Path, x, channels: int = 1) -> None:
    """Write mono float samples as 16-bit PCM (duplicated to `channels`)."""
    pcm = array.array("h", (max(-32768, min(32767, round(v * 32767))) for v in x))
    if channels == 2:
        st = array.array("h", bytes(len(pcm) * 4))
        st[0::2] = pcm
        st[1::2] = pcm
        pcm = st
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def lufs(x) -> float:
    """Integrated loudness (EBU R128) of mono 48 kHz samples, via ffmpeg's ebur128."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.wav"
        write_wav(p, x)
        err = run(["ffmpeg", "-nostats", "-i", str(p), "-af", "ebur128", "-f", "null", "-"]).stderr.decode()
    tail = err[err.rfind("Summary:"):]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", tail).group(1))


def frame_db(x) -> list[float]:
    out = []
    for i in range(0, len(x) - FRAME + 1, FRAME):
        e = sum(v * v for v in x[i:i + FRAME]) / FRAME
        out.append(10 * math.log10(e + 1e-12))
    return out


def percentile(vals: list[float], q: float) -> float:
    s = sorted(vals)
    k = (len(s) - 1) * q / 100
    f = math.floor(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def speech_span(db: list[float], thr: float) -> tuple[int, int]:
    """(first frame, frame after the last) of speech: runs of >= 3 frames above thr."""
    loud = [v > thr for v in db]
    runs = [i for i in range(len(loud) - 2) if loud[i] and loud[i + 1] and loud[i + 2]]
    if not runs:
        raise SystemExit("no speech found")
    return runs[0], runs[-1] + 3


def ass_time(ms: int) -> str:
    cs = round(ms / 10)
    h, cs = divmod(cs, 360000)
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def srt_time(ms: int) -> str:
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.split("\n\n")[1])
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, meta in SOURCES.items():
        p = src / name
        if not p.exists():
            raise SystemExit(f"missing source {p} (see the docstring for where to get it)")
        if sha256(p) != meta["sha256"]:
            raise SystemExit(f"{p}: sha256 differs from the expected source file")
    music_path = src / MUSIC if (src / MUSIC).exists() else MUSIC_SYSTEM_DIR / MUSIC
    if not music_path.exists():
        raise SystemExit(f"missing music {MUSIC}: apt-get install asterisk-moh-opsound-wav")

    # 1. speech: level-match, find speech on/off, cut, place.
    placed = []  # (line, samples, start_sample_on_timeline, on_ms, off_ms, gain_db, thr_db)
    t_ms = 0
    prev_off = 0
    for (lid, spk, clip, text, rows, en, gap) in LINES:
        x = decode(src / clip, af=SPEECH_FILTER)
        gain_db = SPEECH_LUFS - lufs(x)
        peak = max(abs(v) for v in x)
        gain_db = min(gain_db, 20 * math.log10(0.89 / peak))  # keep the clip's peak under -1 dBFS
        g = 10 ** (gain_db / 20)
        x = array.array("f", (v * g for v in x))
        det = decode(src / clip, af=SPEECH_FILTER + "," + DETECT_FILTER)
        db = frame_db(array.array("f", (v * g for v in det)))
        thr = percentile(db, 90) - 24
        f_on, f_off = speech_span(db, thr)
        on_ms = (prev_off + gap) if lid > 1 else gap
        dur_ms = (f_off - f_on) * 10
        off_ms = on_ms + dur_ms
        a = max(0, f_on * FRAME - LEAD_MS * SR // 1000)
        b = min(len(x), f_off * FRAME + TAIL_MS * SR // 1000)
        seg = x[a:b]
        nf = FADE_MS * SR // 1000
        for i in range(nf):
            seg[i] *= i / nf
            seg[-1 - i] *= i / nf
        start = on_ms * SR // 1000 - (f_on * FRAME - a)
        placed.append(dict(line=lid, seg=seg, start=start, on_ms=on_ms, off_ms=off_ms, gain_db=gain_db,
                           thr_db=thr, cut=(a / SR, b / SR), speech_in_clip=(f_on * 10, f_off * 10)))
        prev_off = off_ms
    total_ms = prev_off + OUTRO_MS
    n = total_ms * SR // 1000
    speech = array.array("f", bytes(4 * n))
    for p in placed:
        s = p["start"]
        for i, v in enumerate(p["seg"]):
            speech[s + i] += v

    # re-measure every line on the finished stem (same filter and threshold as its clip)
    with tempfile.TemporaryDirectory() as d:
        write_wav(Path(d) / "stem.wav", speech)
        stem_det = decode(Path(d) / "stem.wav", af=DETECT_FILTER)
    for p in placed:
        a = (p["on_ms"] - 400) * SR // 1000
        b = (p["off_ms"] + 400) * SR // 1000
        db = frame_db(stem_det[a:b])
        f_on, f_off = speech_span(db, p["thr_db"])
        got = ((a // FRAME + f_on) * 10, (a // FRAME + f_off) * 10)
        if got != (p["on_ms"], p["off_ms"]):
            raise SystemExit(f"line {p['line']}: planned {p['on_ms']}-{p['off_ms']} ms, measured {got}")

    # 2. music bed, MUSIC_UNDER_LU under the speech stem
    speech_lufs = lufs(speech)
    music = decode(music_path, MUSIC_OFFSET_S, total_ms / 1000)
    if len(music) < n:
        raise SystemExit("music too short")
    music = music[:n]
    mg = 10 ** ((speech_lufs - MUSIC_UNDER_LU - lufs(music)) / 20)
    fin, fout = int(0.3 * SR), int(1.2 * SR)
    for i in range(n):
        f = mg
        if i < fin:
            f *= i / fin
        if i > n - fout:
            f *= (n - i) / fout
        music[i] *= f
    music_lufs = lufs(music)
    mix = array.array("f", (s + m for s, m in zip(speech, music)))
    peak = max(abs(v) for v in mix)
    if peak > 0.89:
        mix = array.array("f", (v * 0.89 / peak for v in mix))

    # 3. subtitles (ASS, rendered by libass) and SRT
    header = (
        "[Script Info]\nScriptType: v4.00+\nPlayResX: %d\nPlayResY: %d\nWrapStyle: 2\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding\n"
        "Style: Sub,%s,%d,&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,3.5,1,5,30,30,0,1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    ) % (W, H, FONT, FONT_PX)
    events, srt = [], []
    for (lid, spk, clip, text, rows, en, gap), p in zip(LINES, placed):
        assert "".join(rows) == text
        events.append(f"Dialogue: 0,{ass_time(p['on_ms'])},{ass_time(p['off_ms'])},Sub,,0,0,0,,"
                      f"{{\\an5\\pos({W // 2},{SUB_Y})}}" + "\\N".join(rows))
        srt.append(f"{lid}\n{srt_time(p['on_ms'])} --> {srt_time(p['off_ms'])}\n" + "\n".join(rows) + "\n")
    (out / "episode_zh.zh.srt").write_text("\n".join(srt), encoding="utf-8")

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "subs.ass").write_text(header + "\n".join(events) + "\n", encoding="utf-8")
        write_wav(d / "mix.wav", mix, channels=2)
        # 4. picture: the source is a vertical phone video pillarboxed in 960x720; crop its 404x720 picture
        # (x=278), scale to 720x1280, play forward, backward, forward (30 s) and cut to length.
        fg = (f"[0:v]crop=404:720:278:0,scale={W}:{H}:flags=lanczos,setsar=1,fps={FPS},setpts=PTS-STARTPTS,"
              f"split=3[f1][r][f2];[r]reverse[b];"
              f"[f1][b][f2]concat=n=3:v=1:a=0,trim=0:{total_ms / 1000:.3f},setpts=PTS-STARTPTS,"
              f"ass=subs.ass:fontsdir=/usr/share/fonts/opentype/noto,format=yuv420p[v]")
        run(["ffmpeg", "-v", "error", "-y", "-t", "10", "-i", str((src / "Video.mp4").resolve()),
             "-i", "mix.wav", "-filter_complex", fg, "-map", "[v]", "-map", "1:a",
             "-c:v", "libx264", "-profile:v", "high", "-preset", "slow", "-crf", "27",
             "-maxrate", "800k", "-bufsize", "1600k", "-r", str(FPS), "-g", str(2 * FPS),
             "-c:a", "aac", "-b:a", "96k", "-ar", str(SR), "-ac", "2",
             "-t", f"{total_ms / 1000:.3f}", "-movflags", "+faststart", "-metadata", "title=episode_zh",
             str((out / "episode_zh.mp4").resolve())], cwd=d)

    # 5. ground truth
    truth = {
        "file": "episode_zh.mp4",
        "built_by": "samples/build_episode_zh.py",
        "duration_ms": total_ms,
        "video": {"width": W, "height": H, "fps": FPS},
        "timing": ("start_ms/end_ms = speech on/off on the episode timeline, 10 ms grid: first/last 10 ms frame "
                   "of a run of >= 3 frames louder than the clip's 90th-percentile frame energy minus 24 dB, "
                   "measured on the speech high-passed at 150 Hz (4th order). Subtitle on/off = speech on/off "
                   "(at 30 fps a subtitle is on the frames with timestamp in [start_ms, end_ms))."),
        "speakers": SPEAKERS,
        "lines": [],
        "subtitles": {"font": f"{FONT} Bold", "font_px": FONT_PX, "colour": "white, black outline 3.5 px",
                      "block_centre_y": SUB_Y, "block_centre_y_fraction": round(SUB_Y / H, 3)},
        "music": {
            "file": MUSIC, "source": "Debian package asterisk-moh-opsound-wav 2.03-1.1, /usr/share/asterisk/moh/" + MUSIC,
            "by": "Paul Shuler (Macroform), http://macroform.bandcamp.com/", "licence": "CC BY-SA 3.0",
            "offset_s": MUSIC_OFFSET_S, "lufs": round(music_lufs, 1),
            "under_speech_lu": round(speech_lufs - music_lufs, 1),
        },
        "speech_stem_lufs": round(speech_lufs, 1),
        "picture": {"source": SOURCES["Video.mp4"]["origin"], "licence": SOURCES["Video.mp4"]["licence"],
                    "edit": "the source is a vertical phone video pillarboxed (blurred sides) in 960x720: its "
                            "404x720 picture (x=278) is scaled to 720x1280 and played forward, reversed, forward; "
                            "the source's own audio (Spanish) is not used; the voices are not lip-synced"},
    }
    for (lid, spk, clip, text, rows, en, gap), p in zip(LINES, placed):
        m = SOURCES[clip]
        truth["lines"].append({
            "id": lid, "speaker": spk, "start_ms": p["on_ms"], "end_ms": p["off_ms"],
            "text": text, "subtitle_rows": rows, "en": en,
            "source": {"clip": m["origin"], "sha256": m["sha256"], "licence": m["licence"],
                       "reference_text_from": m["text_from"],
                       "cut_s": [round(p["cut"][0], 3), round(p["cut"][1], 3)],
                       "speech_in_clip_ms": list(p["speech_in_clip"]), "gain_db": round(p["gain_db"], 2)},
        })
    (out / "episode_zh.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out / 'episode_zh.mp4'} ({total_ms / 1000:.2f} s), truth.json, zh.srt")
    for ln in truth["lines"]:
        print(f"  {ln['id']} {ln['speaker']} {ln['start_ms']:>6}-{ln['end_ms']:<6} {ln['text']}")
    print(f"  speech {speech_lufs:.1f} LUFS, music {music_lufs:.1f} LUFS")


if __name__ == "__main__":
    main()
