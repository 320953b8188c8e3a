"""Benchmark burned-in subtitle OCR (localize.stages.script.ocr) on episodes with known subtitles.

It builds the integration test's episode (tests/integration/test_ocr.py): the Chinese cues of
../shared/media/subtitles/srt_lib/gb2312.srt, fitted into 0.5-9.5 s, burned with libass onto
../shared/media/video/talking_man_outdoors.mp4 (960x720, 10 s of picture). It reads it back
with ``localize.stages.script.ocr.scan.scan_video`` (what ``read_burned_subtitles`` runs, plus its counters)
and reports:

- CER (jiwer, spaces and punctuation dropped), overall and per cue;
- mean and max |error| of cue starts and ends, in ms;
- the OCR pass's frames decoded and frames OCR'd, wall time, and frames per second.

It does the same on the episode looped 6 times (60 s, 18 cues), and on that loop burned at
1080x1920 onto samples/episode.mp4 (the same man, the shape of a microdrama), to give the cost
per minute of video; then it writes bench/results/ocr.json and bench/results/ocr.md (with
machine info).

    .venv/bin/python bench/bench_ocr.py [--episodes 1 6 6v] [--repeats 2]

Wall times are the median of `--repeats` runs (each loads the model afresh, as the pipeline does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from machine import machine_info as base_machine_info  # bench/machine.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.integration.test_ocr, which builds the episodes

from localize.core.media.probe import probe
from localize.stages.script.ocr import OcrOptions
from localize.stages.script.ocr.scan import scan_video
from tests.integration.test_ocr import (
    WATERMARK,
    build_bilingual_episode_b,
    build_gb2312_episode,
    cer,
    font_available,
    pair_cues,
)

RESULTS = ROOT / "bench" / "results"


def run_episode(workdir: Path, loops: int, vertical: bool, repeats: int, options: OcrOptions) -> dict:
    video, truth = build_gb2312_episode(workdir, loops=loops, vertical=vertical)
    info = probe(video)
    runs = [scan_video(video, options) for _ in range(repeats)]
    track, stats = runs[0]
    wall = statistics.median(s.seconds for _, s in runs)
    duration_ms = info.duration_ms
    cues = []
    for t, f in pair_cues(truth, track.cues):
        cues.append({
            "truth": t.text, "read": f.text if f else None, "cer": round(cer(t.text, f.text if f else ""), 4),
            "truth_start_ms": t.start_ms, "truth_end_ms": t.end_ms,
            "start_ms": f.start_ms if f else None, "end_ms": f.end_ms if f else None,
            "start_error_ms": f.start_ms - t.start_ms if f else None,
            "end_error_ms": f.end_ms - t.end_ms if f else None,
            "confidence": f.confidence if f else None,
        })
    starts = [abs(c["start_error_ms"]) for c in cues if c["start_error_ms"] is not None]
    ends = [abs(c["end_error_ms"]) for c in cues if c["end_error_ms"] is not None]
    ocr_frames = stats.probe_frames + stats.frames_ocr
    return {
        "episode": f"gb2312 x{loops}{' vertical' if vertical else ''}",
        "video": f"{video.name} ({info.width}x{info.height}, {duration_ms / 1000:.1f} s)",
        "duration_ms": duration_ms,
        "cues_true": len(truth),
        "cues_read": len(track.cues),
        "cues_missed": sum(c["read"] is None for c in cues),
        "cer_overall": round(cer("".join(t.text for t in truth), "".join(c.text for c in track.cues)), 4),
        "start_error_ms": {"mean": round(statistics.fmean(starts), 1) if starts else None, "max": max(starts, default=None)},
        "end_error_ms": {"mean": round(statistics.fmean(ends), 1) if ends else None, "max": max(ends, default=None)},
        "band": track.band,
        "frames": {
            "probe_stills": stats.probe_frames,
            "band_decoded": stats.frames_decoded,
            "band_sampled": stats.frames_sampled,
            "band_ocr": stats.frames_ocr,
            "ocr_total": ocr_frames,
        },
        "wall_s": {"median": round(wall, 3), "runs": [round(s.seconds, 3) for _, s in runs]},
        "fps": {
            "decoded": round(stats.frames_decoded / wall, 1),
            "sampled": round(stats.frames_sampled / wall, 1),
            "ocr": round(ocr_frames / wall, 2),
        },
        "realtime_factor": round(duration_ms / 1000 / wall, 2),
        "seconds_per_minute_of_video": round(wall / (duration_ms / 60_000), 2),
        "cues": cues,
    }


def run_drama(workdir: Path, bilingual: bool) -> dict:
    """Episode B (or its bilingual variant): the Chinese cues' CER, English mixed into them, watermark
    cues, Chinese rows joined with a space, and the English track's WER against reference.en.srt."""
    import jiwer

    from localize.stages.render.subtitles import load_subtitles
    from localize.stages.script.ocr.merge import script_of
    from tests.conftest import shared_media

    if bilingual:
        video, zh, en = build_bilingual_episode_b(workdir)
    else:
        video = shared_media("drama/episode_B.mp4")
        zh, en = load_subtitles(shared_media("drama/subtitles.zh.srt")), ()
    track, stats = scan_video(video, OcrOptions())
    chinese = [c for c in track.cues if script_of(c.text) == "cjk"]
    latin = [c for c in track.cues if script_of(c.text) == "latin"]
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    comparable_mark = "".join(ch for ch in WATERMARK if ch.isalnum())
    return {
        "episode": f"episode_B{' bilingual' if bilingual else ''}",
        "cues_zh": len(chinese), "cues_zh_true": len(zh),
        "cer_zh": round(cer("".join(t.text for t in zh), "".join(c.text for c in chinese)), 4),
        "zh_cues_with_latin_letters": sum(any("a" <= ch.casefold() <= "z" for ch in c.text) for c in chinese),
        "zh_cues_with_space_between_cjk": sum(" " in c.text for c in chinese),
        "cues_with_watermark": sum(comparable_mark in "".join(ch for ch in c.text if ch.isalnum()) for c in track.cues)
        if comparable_mark else 0,
        "cues_en": len(latin), "cues_en_true": len(en),
        "wer_en": round(float(jiwer.wer(norm(" ".join(t.text for t in en)), norm(" ".join(c.text for c in latin)))), 4)
        if en else None,
        "wall_s": round(stats.seconds, 1),
        "cues": [[c.start_ms, c.end_ms, c.text] for c in track.cues],
    }


def machine_info() -> dict:
    return base_machine_info(rapidocr_onnxruntime=version("rapidocr_onnxruntime"), onnxruntime=version("onnxruntime"))


def markdown(result: dict) -> str:
    m, opts = result["machine"], result["options"]
    lines = [
        "# Burned-in subtitle OCR benchmark",
        "",
        (f"{m['date']} · {m['cpu_model']} · nproc {m['nproc']} · load average at start "
         f"{', '.join(map(str, m['load_average_at_start']))} · {m['platform']}"),
        f"rapidocr_onnxruntime {m['rapidocr_onnxruntime']} (PP-OCRv4 det+rec ch) · onnxruntime {m['onnxruntime']} · {m['ffmpeg']}",
        "",
        (f"Options: frame step {opts['frame_step_ms']} ms (OCR samples), boundary refinement every "
         f"{opts['refine_step_ms']} ms, {opts['probe_frames']} probe stills, search region {opts['search_region']}."),
        ("Episode: the gb2312.srt cues fitted into 0.5-9.5 s and burned (Noto Sans CJK SC 44 px, white, black "
         "outline) onto talking_man_outdoors.mp4 (960x720); `x6` loops it to 60 s (18 cues); `vertical` burns the "
         "loop onto samples/episode.mp4 scaled to 1080x1920 (64 px text). CER: jiwer, spaces and "
         "punctuation dropped. Wall: median of the runs, model load included."),
        "",
        "| episode | cues read/true | CER | start err mean/max ms | end err mean/max ms | stills + band frames decoded | frames OCR'd | wall s | decoded fps | OCR'd fps | x realtime | s per min of video |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in result["episodes"]:
        f = e["frames"]
        lines.append(
            f"| {e['episode']} | {e['cues_read']}/{e['cues_true']} | {e['cer_overall']:.3f} | "
            f"{e['start_error_ms']['mean']}/{e['start_error_ms']['max']} | {e['end_error_ms']['mean']}/{e['end_error_ms']['max']} | "
            f"{f['probe_stills']} + {f['band_decoded']} | {f['ocr_total']} ({f['probe_stills']} stills + {f['band_ocr']} of "
            f"{f['band_sampled']} samples) | {e['wall_s']['median']:.2f} | {e['fps']['decoded']} | {e['fps']['ocr']} | "
            f"{e['realtime_factor']} | {e['seconds_per_minute_of_video']} |"
        )
    first = result["episodes"][0]
    lines += ["", f"Per cue ({first['episode']}):", "",
              "| truth | read | CER | start true/read (err) ms | end true/read (err) ms | confidence |", "|---|---|---|---|---|---|"]
    for c in first["cues"]:
        lines.append(
            f"| {c['truth']} | {c['read']} | {c['cer']:.3f} | {c['truth_start_ms']}/{c['start_ms']} ({c['start_error_ms']:+d}) | "
            f"{c['truth_end_ms']}/{c['end_ms']} ({c['end_error_ms']:+d}) | {c['confidence']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", nargs="+", default=["1", "6", "6v"],
                        help="episodes as LOOPS (10 s each) with a 'v' suffix for 1080x1920: default 1 6 6v")
    parser.add_argument("--repeats", type=int, default=2, help="OCR runs per episode (the median wall time counts)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--drama", action="store_true",
                        help="only episode B and its bilingual variant (English row + watermark): drama_ocr.json")
    args = parser.parse_args()
    if args.drama:
        with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
            drama = [run_drama(Path(tmp), bilingual) for bilingual in (False, True)]
        for d in drama:
            print({k: v for k, v in d.items() if k != "cues"})
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "drama_ocr.json").write_text(json.dumps(drama, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not font_available():
        print("error: font 'Noto Sans CJK SC' is not installed (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 2
    options = OcrOptions()
    machine = machine_info()
    episodes = []
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        for spec in args.episodes:
            loops, vertical = int(spec.rstrip("v")), spec.endswith("v")
            try:
                episodes.append(run_episode(Path(tmp), loops, vertical, args.repeats, options))
            except BaseException as exc:  # pytest.skip() from shared_media(): ../shared/media is absent
                if type(exc).__name__ == "Skipped":
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                raise
            e = episodes[-1]
            print(f"{e['episode']}: CER {e['cer_overall']:.3f}, start err mean/max {e['start_error_ms']['mean']}/"
                  f"{e['start_error_ms']['max']} ms, end err {e['end_error_ms']['mean']}/{e['end_error_ms']['max']} ms, "
                  f"{e['wall_s']['median']:.2f} s wall, {e['fps']['decoded']} decoded fps, {e['fps']['ocr']} OCR'd fps, "
                  f"{e['seconds_per_minute_of_video']} s per minute of video")
    result = {
        "machine": machine,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.cache_options().items()},
        "episodes": episodes,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ocr.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    (args.results / "ocr.md").write_text(markdown(result))
    print(f"wrote {args.results / 'ocr.json'} and {args.results / 'ocr.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
