"""Language detection through `localize.transcribe`: WER/CER on every shared speech file, language left to detect.

Each file of ../shared/media/speech/transcripts.tsv with a human reference (multilingual.mp3 left out:
its reference is whisper-tiny output; stereo_diarization.wav split into its two channels) is one
``localize.transcribe`` call with OCR and speakers off and no --language, on a fresh cache, so the
recognizer's own language detection decides. English: WER (jiwer; case and punctuation removed), errors
summed over all files as bench_asr.py and bench_understanding.py (read_en) do. Chinese: CER on letters and
digits (NFKC, casefold), after conversion to simplified. Per file: the language the script came out in.

    .venv/bin/python bench/bench_language_id.py --label before

Results are merged into bench/results/asr-language.json (one column per label); asr-language.md is
rewritten from it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
NAME = "asr-language"
NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])


def plain(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if unicodedata.category(ch)[0] in "LN")


def rows() -> list[tuple[str, Path, str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-lid-"))
    out = []
    with open(MEDIA / "speech" / "transcripts.tsv", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        for cells in reader:
            row = dict(zip(["file", *header[1:]], cells, strict=False))
            if row["file"].endswith("multilingual.mp3"):
                continue
            path = MEDIA / row["file"]
            if row["file"].endswith("stereo_diarization.wav"):
                left, right = (p.split(":", 1)[1].strip() for p in row["reference"].split(" | "))
                for ch, ref in (("0", left), ("1", right)):
                    wav = tmp / f"stereo_ch{ch}.wav"
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-af", f"pan=mono|c0=c{ch}",
                                    str(wav)], check=True)
                    out.append((f"{row['file']}[ch{ch}]", wav, "en", ref))
                continue
            out.append((row["file"], path, row["lang"], row["reference"]))
    return out


def run(only: str | None) -> dict:
    import localize
    from localize.stages.script.asr.chinese import to_script

    files, words, errors, chars, char_errors, secs = [], 0, 0, 0, 0.0, 0.0
    for name, path, lang, ref in rows():
        if only and lang != only:
            continue
        with tempfile.TemporaryDirectory(prefix="bench-lid-cache-") as cache:
            t0 = time.perf_counter()
            script = localize.transcribe(path, options=localize.RunOptions(cache_dir=Path(cache), ocr="off",
                                                                           speakers="off"))
            took = time.perf_counter() - t0
        secs += took
        entry: dict = {"file": name, "truth_language": lang, "language": script.language, "seconds": round(took, 2)}
        if lang == "en":
            hyp = " ".join(ln.text for ln in script.lines)
            m = jiwer.process_words(NORM(ref), NORM(hyp))
            words += len(NORM(ref).split())
            errors += m.substitutions + m.deletions + m.insertions
            entry.update(wer=round(m.wer, 3), hypothesis=hyp)
        else:
            hyp = to_script("".join(ln.text for ln in script.lines), "simplified")
            r, h = plain(ref), plain(hyp)
            cer = jiwer.cer(r, h) if h else 1.0
            chars += len(r)
            char_errors += cer * len(r)
            entry.update(cer=round(cer, 3), hypothesis=hyp)
        print(json.dumps(entry, ensure_ascii=False), flush=True)
        files.append(entry)
    return {"english_wer": round(errors / max(words, 1), 4), "english_words": words,
            "chinese_cer": round(char_errors / max(chars, 1), 4), "chinese_chars": chars,
            "wrong_language": sum(f["language"] != f["truth_language"] for f in files),
            "seconds": round(secs, 1), "files": files}


def markdown(data: dict) -> str:
    labels = list(data["labels"])
    out = ["# Language detection: localize.transcribe on the shared speech, no --language", "",
           "Written by `bench/bench_language_id.py` (definitions in its docstring); each file on a fresh cache.", ""]
    for lb in labels:
        m = data["labels"][lb]["machine"]
        out.append(f"- **{lb}**: commit {m['commit']}, {m['date']}, {m['nproc']} cores")
    out += ["", "| metric | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    res = [data["labels"][lb]["result"] for lb in labels]
    for key, title in (("english_wer", "English WER"), ("english_words", "English words"),
                       ("chinese_cer", "Chinese CER"), ("chinese_chars", "Chinese characters"),
                       ("wrong_language", "files in the wrong language"), ("seconds", "seconds (all files)")):
        out.append(f"| {title} | " + " | ".join(str(r.get(key, "")) for r in res) + " |")
    out += ["", "| file | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    names = [f["file"] for f in res[-1]["files"]]
    for name in names:
        cells = []
        for r in res:
            f = next((f for f in r["files"] if f["file"] == name), None)
            if f is None:
                cells.append("")
                continue
            score = f"WER {f['wer']:.3f}" if "wer" in f else f"CER {f['cer']:.3f}"
            cells.append(f"{f['language']}, {score}, {f['seconds']} s: {f['hypothesis'][:60]}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "Re-run: `.venv/bin/python bench/bench_language_id.py --label LABEL`"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="current")
    ap.add_argument("--only", choices=["en", "zh"], help="only the files of this language")
    args = ap.parse_args(argv)
    if not (MEDIA / "speech" / "transcripts.tsv").is_file():
        print(f"{MEDIA} is absent: this benchmark needs the shared media of the development workspace")
        return 2
    path = RESULTS / f"{NAME}.json"
    data = json.loads(path.read_text()) if path.is_file() else {"labels": {}}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    data["labels"][args.label] = {
        "machine": {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
                    "commit": commit.strip()},
        "result": run(args.only)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    (RESULTS / f"{NAME}.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
