"""Understanding benchmark: what `localize.transcribe` makes of episodes with a known truth.

Runs the public API (`localize.transcribe`, `RunOptions`, a fresh temporary cache per run, so every
stage is built) on:

- ``drama_B``: ../shared/media/drama/episode_B.mp4 against truth.json (speech times within ~20 ms,
  speaker and text per line);
- ``sample_zh``: samples/episode_zh.mp4 against samples/episode_zh.truth.json (the only sample with a
  ground truth; samples/episode.mp4 has none);
- ``read_en``: the English read speech with human transcripts in ../shared/media/speech/transcripts.tsv
  (LJSpeech, JFK, ...: the files bench_asr.py scored at WER 0.056; stereo_diarization.wav split into its
  two channels, multilingual.mp3 left out because its reference is whisper-tiny's output). Each file is
  one transcribe() call with OCR and speakers off (audio only, one voice).

Per episode:

- **CER**: the whole script (lines in order) against the whole truth, by character, punctuation and
  whitespace removed (jiwer.cer; NFKC + casefold, keeping letters and digits only).
- **Line start/end error** (ms, p50/p90 of the absolute error, and the median signed error): each script
  line is given to the true line it overlaps most in time (a line overlapping none is given to none);
  a true line's times are then the earliest start and latest end of the script lines it was given, and
  are compared with its true speech start/end. A true line that got no script line is counted as missed
  (left out of the percentiles).
- **Speakers**: distinct speaker labels in the script vs in the truth; **purity** and **coverage** as
  pyannote.metrics defines them (computed here by hand on a 10 ms grid, pyannote.metrics is not
  installed): purity = sum over hypothesis speakers of their largest overlap with one true speaker /
  total hypothesis speech; coverage = sum over true speakers of their largest overlap with one
  hypothesis speaker / total true speech. Script line spans stand for the hypothesis speech, true line
  spans for the reference.
- **CJK spaces**: script lines with whitespace between two CJK characters.
- **Not dialogue**: script lines whose text shares no character bigram (one character for a
  one-character line; for English: no word) with any true line's text (e.g. a hallucinated "字幕by...").
- **English WER** (read_en): per file the script's words against the reference (jiwer; case and
  punctuation removed), errors summed over all files as bench_asr.py does.
- **Seconds**: wall time of the transcribe() call(s), model installs excepted.

    .venv/bin/python bench/bench_understanding.py --label before [--episode drama_B|sample_zh|read_en ...]

Results are merged into bench/results/understanding.json (one column per label) and understanding.md
is rewritten from it, so labels sit side by side.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
NAME = "understanding"
NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
CJK_SPACE = re.compile(r"[\u3400-\u9fff]\s+[\u3400-\u9fff]")


def plain(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if unicodedata.category(ch)[0] in "LN")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 1)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def timing(truth: list[dict], lines: list) -> dict:
    given: dict[int, list] = defaultdict(list)
    for ln in lines:
        best = max(range(len(truth)), key=lambda i: _overlap(ln.start_ms, ln.end_ms, truth[i]["start_ms"],
                                                                 truth[i]["end_ms"]))
        if _overlap(ln.start_ms, ln.end_ms, truth[best]["start_ms"], truth[best]["end_ms"]) > 0:
            given[best].append(ln)
    starts, ends, per_line = [], [], []
    for i, t in enumerate(truth):
        mine = given.get(i)
        if not mine:
            per_line.append({"true": [t["start_ms"], t["end_ms"]], "script": None})
            continue
        s, e = min(x.start_ms for x in mine), max(x.end_ms for x in mine)
        starts.append(s - t["start_ms"])
        ends.append(e - t["end_ms"])
        per_line.append({"true": [t["start_ms"], t["end_ms"]], "script": [s, e], "lines": [x.id for x in mine]})
    return {
        "start_p50_ms": pct([abs(v) for v in starts], 0.5), "start_p90_ms": pct([abs(v) for v in starts], 0.9),
        "end_p50_ms": pct([abs(v) for v in ends], 0.5), "end_p90_ms": pct([abs(v) for v in ends], 0.9),
        "start_signed_median_ms": statistics.median(starts) if starts else None,
        "end_signed_median_ms": statistics.median(ends) if ends else None,
        "true_lines_missed": sum(1 for p in per_line if p["script"] is None), "per_true_line": per_line,
    }


def speakers(truth: list[dict], lines: list) -> dict:
    step = 10
    ref: dict[int, str] = {}
    for t in truth:
        for f in range(t["start_ms"] // step, t["end_ms"] // step):
            ref.setdefault(f, t["speaker"])  # an overlap keeps the earlier line's speaker
    hyp: dict[int, str] = {}
    for ln in lines:
        for f in range(ln.start_ms // step, ln.end_ms // step):
            hyp.setdefault(f, ln.speaker)
    joint: dict[tuple[str, str], int] = defaultdict(int)
    for f, h in hyp.items():
        if f in ref:
            joint[(h, ref[f])] += 1
    hyp_total, ref_total = len(hyp), len(ref)
    purity = sum(max((joint[(h, r)] for r in set(ref.values())), default=0) for h in set(hyp.values()))
    coverage = sum(max((joint[(h, r)] for h in set(hyp.values())), default=0) for r in set(ref.values()))
    return {"speakers_found": len({ln.speaker for ln in lines}), "speakers_true": len({t["speaker"] for t in truth}),
            "purity": round(purity / hyp_total, 3) if hyp_total else None,
            "coverage": round(coverage / ref_total, 3) if ref_total else None}


def not_dialogue(truth_texts: list[str], lines: list, spaced: bool) -> list[str]:
    out = []
    if spaced:
        vocab = {w for t in truth_texts for w in NORM(t).split()}
        for ln in lines:
            if not set(NORM(ln.text).split()) & vocab:
                out.append(ln.text)
        return out
    grams = {p[i:i + 2] for p in map(plain, truth_texts) for i in range(len(p) - 1)}
    chars = set("".join(map(plain, truth_texts)))
    for ln in lines:
        p = plain(ln.text)
        hit = (p in chars) if len(p) == 1 else any(p[i:i + 2] in grams for i in range(len(p) - 1))
        if not hit:
            out.append(ln.text)
    return out


def run_transcribe(path: Path, **opts):
    import localize

    with tempfile.TemporaryDirectory(prefix="bench-understanding-") as cache:
        options = localize.RunOptions(cache_dir=Path(cache), **opts)
        t0 = time.perf_counter()
        script = localize.transcribe(path, options=options)
        return script, time.perf_counter() - t0


def episode(name: str, video: Path, truth_lines: list[dict], text_key: str) -> dict:
    if not video.is_file():
        return {"skipped": f"{video} is absent"}
    script, secs = run_transcribe(video)
    lines = list(script.lines)
    truth = [{"start_ms": t["start_ms"], "end_ms": t["end_ms"], "speaker": t["speaker"], "text": t[text_key]}
             for t in truth_lines]
    ref = "".join(plain(t["text"]) for t in truth)
    hyp = "".join(plain(ln.text) for ln in lines)
    result = {"file": video.name,
              "seconds": round(secs, 1), "language": script.language, "lines_script": len(lines),
              "lines_true": len(truth), "cer": round(jiwer.cer(ref, hyp), 4)}
    result.update(timing(truth, lines))
    result.update(speakers(truth, lines))
    spaced = [ln.text for ln in lines if CJK_SPACE.search(ln.text)]
    result["cjk_space_lines"], result["cjk_space_examples"] = len(spaced), spaced[:5]
    junk = not_dialogue([t["text"] for t in truth], lines, spaced=script.language not in {"zh", "ja"})
    result["not_dialogue_lines"], result["not_dialogue_examples"] = len(junk), junk[:5]
    result["script"] = [{"id": ln.id, "start_ms": ln.start_ms, "end_ms": ln.end_ms, "speaker": ln.speaker,
                         "origin": ln.origin, "text": ln.text} for ln in lines]
    return result


def drama_b() -> dict:
    truth = MEDIA / "drama" / "truth.json"
    if not truth.is_file():
        return {"skipped": f"{truth} is absent"}
    return episode("drama_B", MEDIA / "drama" / "episode_B.mp4", json.loads(truth.read_text())["lines"], "text_zh")


def sample_zh() -> dict:
    truth = json.loads((ROOT / "samples" / "episode_zh.truth.json").read_text())
    return episode("sample_zh", ROOT / "samples" / "episode_zh.mp4", truth["lines"], "text")


def read_en() -> dict:
    tsv = MEDIA / "speech" / "transcripts.tsv"
    if not tsv.is_file():
        return {"skipped": f"{tsv} is absent"}
    tmp = Path(tempfile.mkdtemp(prefix="bench-understanding-en-"))
    rows = []
    with open(tsv, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        for cells in reader:
            row = dict(zip(["file", *header[1:]], cells, strict=False))
            if row["lang"] != "en" or row["file"].endswith("multilingual.mp3"):
                continue
            path = MEDIA / row["file"]
            if row["file"].endswith("stereo_diarization.wav"):
                left, right = (p.split(":", 1)[1].strip() for p in row["reference"].split(" | "))
                for ch, ref in (("0", left), ("1", right)):
                    out = tmp / f"stereo_ch{ch}.wav"
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-af", f"pan=mono|c0=c{ch}",
                                    str(out)], check=True)
                    rows.append((f"{row['file']}[ch{ch}]", out, ref))
                continue
            rows.append((row["file"], path, row["reference"]))
    files, words, errors, secs, lines_total, junk_total = [], 0, 0, 0.0, 0, 0
    for name, path, ref in rows:
        script, took = run_transcribe(path, ocr="off", speakers="off")
        hyp = " ".join(ln.text for ln in script.lines)
        m = jiwer.process_words(NORM(ref), NORM(hyp))
        n = len(NORM(ref).split())
        words += n
        errors += m.substitutions + m.deletions + m.insertions
        secs += took
        junk = not_dialogue([ref], list(script.lines), spaced=True)
        lines_total += len(script.lines)
        junk_total += len(junk)
        files.append({"file": name, "wer": round(m.wer, 3), "seconds": round(took, 2), "lines": len(script.lines),
                      "hypothesis": hyp, "line_times": [[ln.start_ms, ln.end_ms, ln.text] for ln in script.lines]})
    return {"english_wer": round(errors / max(words, 1), 4), "english_words": words, "seconds": round(secs, 1),
            "lines_script": lines_total, "not_dialogue_lines": junk_total, "files": files}


EPISODES = {"drama_B": drama_b, "sample_zh": sample_zh, "read_en": read_en}
ROWS = [("seconds", "seconds"), ("language", "language"), ("lines script / true", None), ("cer", "CER"),
        ("start_p50_ms", "start error p50 ms"), ("start_p90_ms", "start error p90 ms"),
        ("end_p50_ms", "end error p50 ms"), ("end_p90_ms", "end error p90 ms"),
        ("start_signed_median_ms", "start signed median ms"), ("end_signed_median_ms", "end signed median ms"),
        ("true_lines_missed", "true lines missed"), ("speakers found / true", None), ("purity", "purity"),
        ("coverage", "coverage"), ("cjk_space_lines", "lines with CJK spaces"),
        ("not_dialogue_lines", "lines not dialogue"), ("english_wer", "English WER"),
        ("english_words", "English words")]


def _cell(res: dict, key: str) -> str:
    if "skipped" in res:
        return "skipped"
    if key == "lines script / true":
        return f"{res['lines_script']} / {res['lines_true']}" if "lines_true" in res else str(res.get("lines_script", ""))
    if key == "speakers found / true":
        return f"{res['speakers_found']} / {res['speakers_true']}" if "speakers_true" in res else ""
    value = res.get(key)
    return "" if value is None else str(value)


def markdown(data: dict) -> str:
    labels = list(data["labels"])
    out = ["# Understanding: localize.transcribe against known truth", "",
           "Written by `bench/bench_understanding.py` (definitions in its docstring). One column per label "
           "(a state of the code), each run on a fresh cache.", ""]
    for label in labels:
        meta = data["labels"][label]["machine"]
        out.append(f"- **{label}**: commit {meta.get('commit', '?')}, {meta['date']}, {meta['nproc']} cores")
    out.append("")
    episodes = [e for e in EPISODES if any(e in data["labels"][lb]["episodes"] for lb in labels)]
    for ep in episodes:
        out += [f"## {ep}", "", "| metric | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
        cols = [data["labels"][lb]["episodes"].get(ep, {"skipped": "not run"}) for lb in labels]
        for key, title in ROWS:
            cells = [_cell(c, key) for c in cols]
            if any(cells) and not all(c in ("", "skipped") for c in cells):
                out.append(f"| {title or key} | " + " | ".join(cells) + " |")
        out.append("")
        for lb, c in zip(labels, cols, strict=True):
            ex = c.get("not_dialogue_examples") or []
            sp = c.get("cjk_space_examples") or []
            if ex or sp:
                out.append(f"- {lb}: not dialogue {ex}; CJK spaces {sp}")
        out.append("")
    out.append("Re-run: `.venv/bin/python bench/bench_understanding.py --label LABEL [--episode NAME]`")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="current")
    ap.add_argument("--episode", action="append", choices=sorted(EPISODES), help="run only these (repeatable)")
    args = ap.parse_args(argv)
    path = RESULTS / f"{NAME}.json"
    data = json.loads(path.read_text()) if path.is_file() else {"labels": {}}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    entry = data["labels"].setdefault(args.label, {"episodes": {}})
    entry["machine"] = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
                        "python": sys.version.split()[0], "platform": platform.platform(),
                        "commit": commit.strip()}
    for ep in args.episode or list(EPISODES):
        print(f"== {ep}", flush=True)
        res = EPISODES[ep]()
        entry["episodes"][ep] = res
        print(json.dumps({k: v for k, v in res.items() if k not in {"script", "files", "per_true_line"}},
                         ensure_ascii=False), flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
        (RESULTS / f"{NAME}.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
