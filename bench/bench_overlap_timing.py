"""Line starts in overlapped speech: the data fusion's CUE_OVERLAP_MS rule was set on (issue 17).

Two real Mandarin recordings from ../shared/media/speech/zh, the second started while the first is still
speaking (overlap 200-500 ms), with a burned-in-like cue track whose times are known: each cue starts
where its recording's voice starts (Silero VAD on the recording alone) and the first ends where the second
starts. localize.transcribe (ocr off) hears the mix; fusion takes the known cues. Prints each second line's
start error with the rule and without it (CUE_OVERLAP_MS set to CUE_SNAP_MS).

    .venv/bin/python bench/bench_overlap_timing.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import localize
from localize.core.artifacts import OcrCue
from localize.stages.script import fusion
from localize.stages.script.asr.refine import speech_regions

ZH = Path(__file__).resolve().parents[2] / "shared" / "media" / "speech" / "zh"
NET = ("fireredasr_TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav", "我有的时候说不清楚你们知道吗")
BAC = ("fireredasr_BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况")
IT = ("fireredasr_IT0011W0001.wav", "换一首歌")
CASES = [(BAC, NET, 500), (BAC, NET, 300), (NET, BAC, 200), (NET, BAC, 400), (NET, BAC, 600),
         (BAC, IT, 300), (IT, BAC, 300), (IT, NET, 400)]


def _to16k(src: Path, dst: Path, delay_ms: int = 0) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-af", f"adelay={delay_ms}",
                    "-ar", "16000", "-ac", "1", str(dst)], check=True)
    return dst


def overlapped(first: tuple[str, str], second: tuple[str, str], overlap_ms: int, work: Path):
    """(mix path, cues, true start of the second line) for `second` starting overlap_ms before `first` ends."""
    a = _to16k(ZH / first[0], work / "a.wav")
    (a0, a1) = (speech_regions(a)[0][0], speech_regions(a)[-1][1])
    b = _to16k(ZH / second[0], work / "b.wav")
    (b0, b1) = (speech_regions(b)[0][0], speech_regions(b)[-1][1])
    delay = a1 - overlap_ms - b0
    mix = work / f"mix_{first[0][:12]}_{second[0][:12]}_{overlap_ms}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(a), "-i", str(b), "-filter_complex",
                    f"[1]adelay={delay}[b];[0][b]amix=inputs=2:normalize=0:duration=longest",
                    "-ar", "16000", "-ac", "1", str(mix)], check=True)
    start2 = delay + b0
    cues = [OcrCue(start_ms=a0, end_ms=start2, text=first[1], box=(0, 0, 1, 1), confidence=0.95),
            OcrCue(start_ms=start2, end_ms=delay + b1, text=second[1], box=(0, 0, 1, 1), confidence=0.95)]
    return mix, cues, start2


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for first, second, ov in CASES:
            mix, cues, start2 = overlapped(first, second, ov, work)
            heard = localize.transcribe(mix, options=localize.RunOptions(ocr="off", speakers="off"),
                                        cache_dir=work / "cache")
            with_rule = fusion.fuse(heard.lines, cues, "zh")
            keep = fusion.CUE_OVERLAP_MS
            fusion.CUE_OVERLAP_MS = fusion.CUE_SNAP_MS
            without = fusion.fuse(heard.lines, cues, "zh")
            fusion.CUE_OVERLAP_MS = keep
            errs = [ln.start_ms - start2 for ln in (with_rule[-1], without[-1])]
            print(f"{first[1][:4]}+{second[1][:4]} overlap {ov} ms: second line true start {start2}, "
                  f"error with rule {errs[0]:+d} ms, without {errs[1]:+d} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
