"""Speech recognition accuracy and speed on the real speech in ../shared/media.

For every English file of ../shared/media/speech with a human reference in transcripts.tsv: WER
(jiwer; case and punctuation removed), per file and overall (errors summed over all words). For the
Chinese file: CER after OpenCC conversion to simplified. Real-time factor (recognition wall time /
audio duration, model already loaded) per backend and model, measured side by side in one run.

Normalisation is case and punctuation only, as jiwer does it: "1, 2, 3" against "one two three"
counts as three substitutions (Whisper writes digits).

Left out, with reasons printed: multilingual.mp3 (its "reference" is whisper-tiny's own output, not
a human transcript). stereo_diarization.wav is scored per channel (one speaker each).

    .venv/bin/python bench/bench_asr.py [--backend faster-whisper] [--model base] [--model /path/ct2-dir]
    /path/to/whisperx-venv/bin/python bench/bench_asr.py --backend faster-whisper --backend whisperx --name asr-whisperx
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])


def references() -> list[tuple[str, Path, str, str]]:
    """(name, audio file, language, reference) rows; stereo file split into its two channels."""
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-asr-"))
    with open(MEDIA / "speech" / "transcripts.tsv", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        for cells in reader:
            row = dict(zip(["file", *header[1:]], cells, strict=False))
            path = MEDIA / row["file"]
            if row["file"].endswith("multilingual.mp3"):
                print(f"skip {row['file']}: its reference is whisper-tiny output, not a human transcript")
                continue
            if row["file"].endswith("stereo_diarization.wav"):
                left, right = (part.split(":", 1)[1].strip() for part in row["reference"].split(" | "))
                for channel, ref in (("0", left), ("1", right)):
                    out = tmp / f"stereo_ch{channel}.wav"
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-af",
                                    f"pan=mono|c0=c{channel}", str(out)], check=True)
                    rows.append((f"{row['file']}[ch{channel}]", out, "en", ref))
                continue
            rows.append((row["file"], path, row["lang"], row["reference"]))
    return rows


def duration_s(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return float(out)


def run_backend(backend: str, model: str, rows: list) -> dict:
    from localize.stages.script.asr import RECOGNIZERS, AsrOptions
    from localize.stages.script.asr.chinese import to_script
    from localize.core.media import run_ffmpeg
    from localize.core.media.ffmpeg import extract_audio_argv

    tmp = Path(tempfile.mkdtemp(prefix="bench-asr-wav-"))
    results, words, errors, audio_s, busy_s = [], 0, 0, 0.0, 0.0
    for lang in sorted({r[2] for r in rows}):
        t0 = time.perf_counter()
        rec = RECOGNIZERS.create(backend, options=AsrOptions(model=model, language=lang))
        warm = tmp / "warmup.wav"  # a first call loads the model; keep it out of the real-time factor
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1",
                        str(warm)], check=True)
        rec.recognize(warm)
        load_s = time.perf_counter() - t0
        for name, path, row_lang, ref in rows:
            if row_lang != lang:
                continue
            wav = tmp / (Path(name.replace("/", "_")).stem + ".wav")
            run_ffmpeg(extract_audio_argv(path, wav, rate=16000, channels=1), f"decoding {path}")
            t1 = time.perf_counter()
            raw = rec.recognize(wav)
            elapsed = time.perf_counter() - t1
            hyp = ("" if lang == "zh" else " ").join(w.text.strip() for seg in raw.segments for w in seg)
            secs = duration_s(path)
            entry = {"file": name, "language": lang, "seconds": round(secs, 2), "recognize_s": round(elapsed, 3),
                     "rtf": round(elapsed / secs, 3), "hypothesis": hyp, "reference": ref}
            if lang == "zh":
                hyp_s = to_script(hyp, "simplified")
                entry["cer"] = round(jiwer.cer(NORM(ref).replace(" ", ""), NORM(hyp_s).replace(" ", "")), 3)
                entry["hypothesis_simplified"] = hyp_s
            else:
                measures = jiwer.process_words(NORM(ref), NORM(hyp))
                entry["wer"] = round(measures.wer, 3)
                n = len(NORM(ref).split())
                words += n
                errors += measures.substitutions + measures.deletions + measures.insertions
                audio_s += secs
                busy_s += elapsed
            results.append(entry)
        rec.release()
        results.append({"file": f"(model load + first call, {lang})", "load_s": round(load_s, 3)})
    return {"backend": backend, "model": model, "files": results,
            "english_wer_overall": round(errors / max(words, 1), 4), "english_words": words,
            "english_rtf": round(busy_s / max(audio_s, 1e-9), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", action="append", dest="backends")
    ap.add_argument("--model", action="append", dest="models")
    ap.add_argument("--name", default="asr", help="results file stem under bench/results (default asr)")
    args = ap.parse_args(argv)
    if not MEDIA.is_dir():
        print(f"{MEDIA} is absent: this benchmark needs the shared media of the development workspace")
        return 2
    rows = references()
    runs = [run_backend(b, m, rows) for b in (args.backends or ["faster-whisper"]) for m in (args.models or ["base"])]
    machine = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
               "python": sys.version.split()[0], "platform": platform.platform()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"machine": machine, "runs": runs}, indent=2, ensure_ascii=False))
    lines = ["# Speech recognition on ../shared/media/speech", "",
             f"machine: {machine['nproc']} cores, Python {machine['python']}, {machine['date']}", ""]
    for run in runs:
        lines += [f"## {run['backend']} / {run['model']}", "",
                  f"English WER overall **{run['english_wer_overall']:.3f}** over {run['english_words']} words; "
                  f"English real-time factor **{run['english_rtf']:.3f}** (model loaded)", "",
                  "| file | s | WER / CER | RTF | hypothesis |", "|---|---:|---:|---:|---|"]
        for f in run["files"]:
            if "load_s" in f:
                lines.append(f"| {f['file']} | | | | load {f['load_s']:.2f} s |")
                continue
            score = f"WER {f['wer']:.3f}" if "wer" in f else f"CER {f['cer']:.3f}"
            lines.append(f"| {f['file']} | {f['seconds']} | {score} | {f['rtf']:.3f} | "
                         f"{f.get('hypothesis_simplified', f['hypothesis'])[:90]} |")
        lines.append("")
    lines.append("Re-run: `.venv/bin/python bench/bench_asr.py` (add `--model DIR` for another CTranslate2 model).")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
