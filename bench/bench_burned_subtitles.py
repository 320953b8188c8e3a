"""What an en-US viewer sees on the developer episode: burned English, no Chinese, at most 2 rows.

Runs the CLI once, as a user would, on ../shared/media/drama/episode_B.mp4 (46.6 s, 1080x1920,
simplified-Chinese subtitles burned in) with the human English translation and nothing else:

    localize run episode_B.mp4 --market en-US --translation en-US=reference.en.srt --out OUT

then decodes the render at each line's midpoint (the reference translation's times) and at each
subtitle cue's midpoint, and reads the subtitle band (55-95 % of the height) with the packaged OCR
(rapidocr, which reads Chinese and Latin). Counted: Chinese characters found anywhere in the band,
the lines whose English OCR reads back (similarity of letters >= 0.8 with the cue on screen), the
rows on screen (OCR text boxes grouped by height), and the characters in a row (OCR and the SRT).

    .venv/bin/python bench/bench_burned_subtitles.py [--out /tmp/epB] [--markdown-only] [--llm]

--llm: no human translation: the packaged LLM translates (the main job as a user runs it), and the
results go to burned_subtitles_llm.{json,md}.

Writes bench/results/burned_subtitles.json and burned_subtitles.md (--markdown-only: the .md again from
the .json, without running). Needs the `ocr` and `picture`
extras and ../shared/media.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np
import pysubs2
from machine import machine_info

from localize.stages.script.ocr import READERS

RESULTS = ROOT / "bench" / "results"
DRAMA = ROOT.parent / "shared" / "media" / "drama"
BAND = (0.55, 0.95)


def frame(video: Path, at_s: float, size: tuple[int, int]) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at_s:.3f}", "-i", str(video), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0])


def latin(text: str) -> str:
    return "".join(ch.lower() for ch in text if ch.isascii() and ch.isalnum())


def chinese(text: str) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text)


def rows(boxes) -> list[list]:
    """Text boxes grouped into rows by their vertical centres."""
    out: list[list] = []
    for b in sorted(boxes, key=lambda b: b.y + b.height / 2):
        if out and abs((b.y + b.height / 2) - (out[-1][-1].y + out[-1][-1].height / 2)) < 0.5 * b.height:
            out[-1].append(b)
        else:
            out.append([b])
    return out


def read_band(video: Path, times_s: list[float], size: tuple[int, int]) -> list:
    top, bottom = round(BAND[0] * size[1]), round(BAND[1] * size[1])
    reader = READERS.create("rapidocr", language="ch")
    try:
        return reader.read([frame(video, t, size)[top:bottom] for t in times_s])
    finally:
        reader.release()


def on_screen(cues, t_ms: float):
    return next((c for c in cues if c.start <= t_ms < c.end), None)


def measure(video: Path, srt: Path, lines, size: tuple[int, int]) -> dict:
    cues = pysubs2.load(str(srt)).events
    line_times = [(ln.start + ln.end) / 2 for ln in lines]
    cue_times = [(c.start + c.end) / 2 for c in cues]
    found = read_band(video, [t / 1000 for t in line_times + cue_times], size)
    samples = []
    for t_ms, boxes in zip(line_times + cue_times, found, strict=True):
        cue = on_screen(cues, t_ms)
        english = [b for b in boxes if len(latin(b.text)) >= 3]
        read = " ".join(b.text for b in english)
        samples.append({
            "t_ms": round(t_ms), "kind": "line" if len(samples) < len(line_times) else "cue",
            "cue": cue.plaintext if cue else "", "ocr": [b.text for b in boxes],
            "chinese_chars": sum(chinese(b.text) for b in boxes),
            "similarity": round(difflib.SequenceMatcher(None, latin(read), latin(cue.plaintext)).ratio(), 3)
            if cue else 0.0,
            "rows": len(rows(english)), "row_chars": max((len(" ".join(b.text for b in r)) for r in rows(english)),
                                                         default=0),
        })
    by_line = [s for s in samples if s["kind"] == "line"]
    srt_rows = [r for c in cues for r in c.plaintext.split("\n")]
    return {
        "lines": len(lines), "cues": len(cues),
        "chinese_chars_found": sum(s["chinese_chars"] for s in samples),
        "english_lines_found": sum(s["similarity"] >= 0.8 for s in by_line),
        "max_rows_on_screen": max(s["rows"] for s in samples),
        "max_row_chars_ocr": max(s["row_chars"] for s in samples),
        "max_row_chars_srt": max(len(r) for r in srt_rows),
        "max_rows_srt": max(len(c.plaintext.split("\n")) for c in cues),
        "samples": samples,
    }


def write_markdown(result: dict, name: str = "burned_subtitles") -> None:
    info, size = result["machine"], result["size"]
    h = size[1]
    text = [
        "# Burned-in subtitles: what an en-US viewer sees", "",
        f"`localize {result['command']}` (the built-in en-US market, "
        f"{'the packaged LLM translating' if result.get('llm') else 'the human translation'}; the whole run: "
        f"ASR, OCR, separation, dub, back-check, picture, render), {result['run_s']} s on {info['cpu_model']} "
        f"({info['nproc']} cores, load {info['load_average_at_start']} at the start), {info['date']}.", "",
        f"Render: {size[0]}x{size[1]}, streams {', '.join(result['streams'])}; subtitle font size "
        f"{result['font_px']} px ({100 * result['font_px'] / h:.2f} % of the height), bottom margin "
        f"{result['margin_bottom_px']} px ({100 * result['margin_bottom_px'] / h:.1f} %).", "",
        "OCR (rapidocr) of the subtitle band (55-95 % of the height) at each line's midpoint "
        f"({result['lines']} lines) and each cue's midpoint ({result['cues']} cues):", "",
        "| measure | value |", "|---|---:|",
        f"| Chinese characters found | {result['chinese_chars_found']} |",
        f"| English lines found (OCR similarity >= 0.8 with the cue on screen) | "
        f"{result['english_lines_found']} / {result['lines']} |",
        f"| rows on screen, max (OCR) | {result['max_rows_on_screen']} |",
        f"| characters per row, max (OCR / subtitles.srt) | {result['max_row_chars_ocr']} / "
        f"{result['max_row_chars_srt']} |",
        f"| rows per cue, max (subtitles.srt) | {result['max_rows_srt']} |", "",
        "Per line (report.json): cues, reading speed while shown (limit 17 cps), what the layout did:", "",
        "| line | cues | cps | flags |", "|---|---:|---:|---|",
        *[f"| {ln['id']} | {ln['subtitle_cues']} | {ln['reading_cps']} | {', '.join(ln['flags'])} |"
          for ln in result["report"]],
        "", "Lines are the script's (ASR fused with the OCR'd Chinese), which need not match the reference "
        "translation's 8 cues one to one; a script line no human cue covers is machine-translated "
        "(flag no-human-cue in report.json).", "",
        "Samples (time, cue on screen, what OCR read):", "",
        *[f"- {s['t_ms']} ms ({s['kind']}): {s['cue']!r} -> {s['ocr']} (similarity {s['similarity']})"
          for s in result["samples"]],
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text[:16]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/epB"))
    parser.add_argument("--markdown-only", action="store_true", help="rewrite the .md from the last .json")
    parser.add_argument("--llm", action="store_true", help="let the packaged LLM translate (no human translation)")
    args = parser.parse_args()
    name = "burned_subtitles_llm" if args.llm else "burned_subtitles"
    if args.markdown_only:
        write_markdown(json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")), name)
        return
    episode, reference = DRAMA / "episode_B.mp4", DRAMA / "reference.en.srt"
    if not episode.is_file():
        sys.exit(f"{episode} is absent (../shared/media ships with the development workspace)")
    info = machine_info(episode=str(episode))
    cmd = [str(ROOT / ".venv" / "bin" / "localize"), "run", str(episode), "--market", "en-US", "--out", str(args.out)]
    if not args.llm:
        cmd[5:5] = ["--translation", f"en-US={reference}"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    run_s = time.perf_counter() - t
    market_dir = args.out / episode.stem / "en-US"
    video = market_dir / "video.mp4"
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(video)],
                                      capture_output=True, text=True, check=True).stdout)
    vstream = next(s for s in probe["streams"] if s["codec_type"] == "video")
    size = (int(vstream["width"]), int(vstream["height"]))
    result = measure(video, market_dir / "subtitles.srt", pysubs2.load(str(reference)).events, size)
    ass = pysubs2.load(str(market_dir / "subtitles.ass"))
    report = json.loads((market_dir / "report.json").read_text(encoding="utf-8"))
    result.update({
        "machine": info, "command": " ".join(cmd[1:]), "run_s": round(run_s, 1), "size": list(size), "llm": args.llm,
        "streams": [s["codec_type"] for s in probe["streams"]],
        "font_px": ass.styles["Default"].fontsize, "margin_bottom_px": ass.styles["Default"].marginv,
        "report": [{"id": ln["id"], "subtitle_cues": ln["subtitle_cues"], "reading_cps": ln["reading_cps"],
                    "flags": [f for f in ln["flags"] if f.startswith(("subtitle-", "reading-"))]}
                   for ln in report["lines"]],
    })
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_markdown(result, name)


if __name__ == "__main__":
    main()
