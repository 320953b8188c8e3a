"""Region renders and burned-in subtitle removal, timed against a plain ffmpeg re-encode in one run.

Render time: each market's render (localize.stages.render.market.render_market_video: its preset, its
subtitles soft/burned in its script's font, the visible AI label) of samples/episode.mp4 (10 s,
404x720) with its own sound as the mix and four cues in the market's language, against a plain
re-encode of the same episode (libx264 veryfast CRF 20 + AAC, no filters) at the source size and
scaled to 1080x1920. Runs are interleaved and each time is the median of `--repeats`.

Subtitle removal: the gb2312.srt cues burned with Noto Sans CJK onto talking_man_outdoors.mp4
(built as bench_ocr.py and tests/integration/test_ocr.py do) and the same video encoded the same way
without them. OCR (localize.stages.script.ocr) reads the burned episode, the picture stage
(localize.stages.picture.frames.picture_stage with SubtitleRemover) paints the cues out, and OCR reads the
result again. The band difference is the mean absolute grey difference from the clean encode inside
the subtitle band while a cue is on (and outside it: the encoders' own noise), and the band's PSNR;
the picture stage's time is compared with a plain re-encode of the same episode.

    .venv/bin/python bench/bench_render.py [--repeats 3]

Writes bench/results/render.json and render.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import msgspec
from machine import machine_info

from localize.core.cache import ArtifactStore
from localize.core.markets import builtin_markets
from localize.stages.script.ocr import read_burned_subtitles
from localize.stages.picture.frames import overlay_of, picture_stage, whole_picture_argv
from localize.stages.picture.inpaint import SubtitleRemover
from localize.stages.render.market import render_market_video
from localize.stages.render.subtitles import Cue
from localize.stages.audio.stage import open_source
from tests.integration.test_ocr import build_gb2312_episode
from tests.integration.test_subtitle_removal import band_difference, build_clean_episode

RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT / "samples" / "episode.mp4"
LINES = {
    "en-US": ["Where were you last night?", "I told you, I was working.", "Don't lie to me.", "Fine. I'll go."],
    "pt-BR": ["Onde você estava ontem?", "Eu te disse, trabalhando.", "Não minta pra mim.", "Tá bom. Eu vou."],
    "zh-CN": ["你昨晚去哪了？", "我说了，我在工作。", "别骗我。", "好吧，我走。"],
    "th-TH": ["เมื่อคืนคุณไปไหนมา", "บอกแล้วไงว่าทำงาน", "อย่าโกหกฉัน", "ก็ได้ ฉันไปล่ะ"],
    "ar-SA": ["أين كنت الليلة الماضية؟", "قلت لك، كنت أعمل.", "لا تكذب علي.", "حسنا. سأذهب."],
    "hi-IN": ["कल रात तुम कहाँ थे?", "बताया था, काम कर रहा था।", "मुझसे झूठ मत बोलो।", "ठीक है। मैं जाता हूँ।"],
}
# zh-CN's built-in render is soft at the source size; the bench also burns it into the vertical preset.
OVERRIDES = {"zh-CN": {"subtitles": "burned", "preset": "tiktok-1080x1920"}}


def cues(tag: str) -> list[Cue]:
    return [Cue(start_ms=500 + i * 2300, end_ms=2500 + i * 2300, text=t) for i, t in enumerate(LINES[tag])]


def plain_argv(src: Path, dst: Path, scale: str = "") -> list[str]:
    vf = ["-vf", f"scale={scale}"] if scale else []
    return ["ffmpeg", "-v", "error", "-y", "-i", str(src), *vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(dst)]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_renders(work: Path, repeats: int) -> dict:
    mix = work / "mix.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE), "-vn", "-ac", "2", "-ar", "48000", str(mix)],
                   check=True)
    markets = builtin_markets()
    runs: dict[str, list[float]] = {"plain 404x720": [], "plain 1080x1920": []}
    chosen = {}
    for tag in LINES:
        m = markets[tag]
        if tag in OVERRIDES:
            m = msgspec.structs.replace(m, render=msgspec.structs.replace(m.render, **OVERRIDES[tag]))
        chosen[tag] = m
        runs[tag] = []
    for r in range(repeats):
        runs["plain 404x720"].append(timed(lambda: subprocess.run(plain_argv(SAMPLE, work / "plain.mp4"), check=True)))
        runs["plain 1080x1920"].append(timed(lambda: subprocess.run(
            plain_argv(SAMPLE, work / "plain-v.mp4", "1080:1920"), check=True)))
        for tag, m in chosen.items():
            out = work / f"{tag}-{r}"
            out.mkdir()
            runs[tag].append(timed(lambda m=m, out=out, tag=tag: render_market_video(
                m, picture=SAMPLE, audio=mix, cues=cues(tag), out_dir=out, title=f"episode ({tag})")))
    plain = statistics.median(runs["plain 404x720"])
    rows = []
    for name, times in runs.items():
        m = chosen.get(name)
        rows.append({
            "render": name,
            "subtitles": m.render.subtitles if m else "-",
            "preset": m.render.preset if m else "-",
            "seconds": round(statistics.median(times), 2),
            "runs": [round(t, 2) for t in times],
            "ratio_to_plain_reencode": round(statistics.median(times) / plain, 2),
        })
    return {"episode": f"{SAMPLE.name} (10 s, 404x720)", "repeats": repeats, "rows": rows}


def bench_removal(work: Path) -> dict:
    burned, truth = build_gb2312_episode(work)
    clean = build_clean_episode(work)
    t = time.perf_counter()
    before = read_burned_subtitles(burned)
    ocr_s = time.perf_counter() - t
    source = open_source(burned, need_video=True)
    plain_s = timed(lambda: subprocess.run(plain_argv(burned, work / "burned-plain.mp4"), check=True))
    t = time.perf_counter()
    built = picture_stage(source, [SubtitleRemover(before, "bench")], ArtifactStore(work / "cache")).value
    stage_s = time.perf_counter() - t
    overlay = overlay_of(built)
    picture = work / "whole.mp4"  # the band drawn over the source, as a render draws it, losslessly
    subprocess.run(whole_picture_argv(built, burned, picture, crf=0), check=True)
    after = read_burned_subtitles(picture)
    spans = [(c.start_ms, c.end_ms) for c in truth]
    assert before.band is not None, "OCR found no subtitle band in the burned episode"
    return {
        "episode": f"{burned.name} (talking_man_outdoors.mp4 + gb2312.srt, 960x720, 10 s)",
        "ocr_before": {"cues": len(before.cues), "texts": [c.text for c in before.cues], "band": before.band,
                       "seconds": round(ocr_s, 2)},
        "ocr_after": {"cues": len(after.cues), "texts": [c.text for c in after.cues], "band": after.band},
        "burned_vs_clean": band_difference(burned, clean, before.band, spans),
        "removed_vs_clean": band_difference(picture, clean, before.band, spans),
        "picture_stage_s": round(stage_s, 2),
        "encoded": f"the band only, {overlay.width}x{overlay.height} at ({overlay.x}, {overlay.y})" if overlay
                   else "the whole picture",
        "plain_reencode_s": round(plain_s, 2),
        "ratio_to_plain_reencode": round(stage_s / plain_s, 2),
    }


def markdown(result: dict) -> str:
    r, s = result["renders"], result["removal"]
    out = ["# Region renders and burned-in subtitle removal", "",
           (f"Machine: {result['machine']['cpu_model']}, {result['machine']['nproc']} cores "
            f"(load {result['machine']['load_average_at_start']} at start), {result['machine']['ffmpeg']}; "
            f"{result['machine']['date']}. Re-run: `.venv/bin/python bench/bench_render.py`."), "",
           f"## Render time per market ({r['episode']}, median of {r['repeats']}, interleaved)", "",
           ("Each market's render against a plain re-encode of the same episode (libx264 veryfast CRF 20, AAC) "
            "in the same run."), "",
           "| render | subtitles | preset | seconds | x plain re-encode 404x720 | x plain re-encode, same size |",
           "|---|---|---|---:|---:|---:|"]
    plain = {row["render"]: row["seconds"] for row in r["rows"] if row["render"].startswith("plain")}
    for row in r["rows"]:
        same = plain["plain 1080x1920"] if "1080x1920" in row["preset"] + row["render"] else plain["plain 404x720"]
        out.append(f"| {row['render']} | {row['subtitles']} | {row['preset']} | {row['seconds']} | "
                   f"{row['ratio_to_plain_reencode']} | {row['seconds'] / same:.2f} |")
    b, a = s["burned_vs_clean"], s["removed_vs_clean"]
    out += ["", f"## Burned-in subtitle removal ({s['episode']})", "",
            (f"- OCR before: {s['ocr_before']['cues']} cues ({', '.join(s['ocr_before']['texts'])}), band rows "
             f"{s['ocr_before']['band'][0]}-{s['ocr_before']['band'][1]}."),
            (f"- OCR after: {s['ocr_after']['cues']} cues"
             + (f" ({', '.join(s['ocr_after']['texts'])})" if s['ocr_after']['texts'] else "") + "."),
            (f"- Picture stage (decode, inpaint, near-lossless encode of {s.get('encoded', 'the whole picture')}): "
             f"{s['picture_stage_s']} s; a plain "
             f"re-encode of the same episode {s['plain_reencode_s']} s (x{s['ratio_to_plain_reencode']})."), "",
            ("Difference from the same video encoded without subtitles, while a cue is on "
             f"({a['frames']} frames, one every 200 ms):"), "",
            "| | band mean abs diff | outside the band | band PSNR (dB) |", "|---|---:|---:|---:|",
            f"| burned | {b['band_mad']} | {b['outside_mad']} | {b['band_psnr_db']} |",
            f"| after removal | {a['band_mad']} | {a['outside_mad']} | {a['band_psnr_db']} |", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "renders").mkdir()
        (work / "removal").mkdir()
        result = {"machine": machine, "renders": bench_renders(work / "renders", args.repeats),
                  "removal": bench_removal(work / "removal")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "render.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = markdown(result)
    (RESULTS / "render.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
