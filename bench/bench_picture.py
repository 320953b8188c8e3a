"""Faces and lip alignment, measured against hand annotations.

1. Face detection (bench/data/faces.json: 14 video frames of ../shared/media and the sample, plus
   the astronaut image, annotated by hand): recall and false positives of the Haar cascade on
   single frames (the default) beside dlib's HOG detector (the `faces` extra), and of the Haar
   face tracks (5 samples a second, linked and filled in) at the annotated times; time per frame.
2. Lip alignment (bench/data/mouth_openings.json: the visible mouth openings of the sample's
   talking lines, annotated by hand): `localize_episode` on samples/episode.mp4 into pt-BR and
   en-US with `picture.lip_align` on, mouth activity from Haar and from dlib. Per talking line,
   the dub's speech onset (an energy onset of its clip) minus the annotated opening, before and
   after alignment; mean and 90th-percentile absolute offset; the detector's own opening error.
   Then the same dubs displaced by -300/-150/+150/+300 ms (as a misplaced ASR slot would put
   them) and aligned again.

    .venv/bin/python bench/bench_picture.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from localize import localize_episode  # noqa: E402
from localize.core import jsonio  # noqa: E402
from localize.core.artifacts import DubTrack, Script  # noqa: E402
from localize.core.options import RunOptions  # noqa: E402
from localize.stages.picture.faces import FaceTracks, HaarDetector, track_faces  # noqa: E402
from localize.stages.picture.lipalign import align_track, offset_stats, speech_bounds  # noqa: E402
from localize.stages.picture.mouth import MouthActivity, speaking_faces  # noqa: E402
from localize.stages.picture.shots import detect_shots  # noqa: E402


def _path(name: str) -> Path:
    return (ROOT / name).resolve()


def _frame(path: Path, t_ms: int):
    import cv2

    if path.suffix == ".png":
        return cv2.imread(str(path))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{t_ms / 1000:.3f}", "-i", str(path), "-frames:v", "1",
                          "-f", "image2pipe", "-vcodec", "png", "-"], capture_output=True, check=True).stdout
    import numpy as np

    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)


def _match(boxes: list[tuple[int, int, int, int]], faces: list[dict]) -> tuple[int, int]:
    """(faces found, false positives): a box matches a face when the nose lies inside it and its side
    is 0.5-2x the face height."""
    used, found = set(), 0
    for face in faces:
        nx, ny = face["nose"]
        for k, (x, y, w, h) in enumerate(boxes):
            if k not in used and x <= nx < x + w and y <= ny < y + h and 0.5 <= max(w, h) / face["height"] <= 2.0:
                used.add(k)
                found += 1
                break
    return found, len(boxes) - len(used)


def bench_faces() -> dict:
    ann = json.loads((ROOT / "bench" / "data" / "faces.json").read_text())
    haar = HaarDetector()
    detectors = {"haar (single frame)": lambda f: haar.detect(f)}
    try:
        from localize.stages.picture.landmarks import landmarker

        dl = landmarker()
        detectors["dlib HOG (single frame)"] = lambda f: [(a, b, c - a, d - b) for a, b, c, d in
                                                         (x.box for x in dl.faces(f))]
    except Exception as exc:  # the faces extra is optional
        print(f"dlib skipped: {exc}")
    frames = [(_path(fr["file"]), fr["t_ms"], fr["faces"]) for fr in ann["frames"]]
    images = [(p, t, faces, _frame(p, t)) for p, t, faces in frames]
    total = sum(len(f) for _, _, f, _ in images)
    rows = {}
    for name, detect in detectors.items():
        found = fp = 0
        start = time.perf_counter()
        for _, _, faces, img in images:
            f, p = _match(detect(img), faces)
            found, fp = found + f, fp + p
        rows[name] = {"faces": total, "found": found, "false_positives": fp, "recall": round(found / total, 3),
                      "ms_per_frame": round((time.perf_counter() - start) * 1000 / len(images), 1)}
    # tracks: every video once, the track boxes at the annotated times
    found = fp = 0
    videos = sorted({p for p, t, _, _ in images if p.suffix != ".png"})
    n = 0
    start = time.perf_counter()
    for video in videos:
        duration = int(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                             "csv=p=0", str(video)], capture_output=True, text=True).stdout) * 1000)
        tracks = track_faces(video, detect_shots(video, duration))
        for p, t, faces, _ in images:
            if p == video:
                f, q = _match([box for _, box in tracks.at(t)], faces)
                found, fp, n = found + f, fp + q, n + len(faces)
    rows["haar tracks (5 fps, linked)"] = {"faces": n, "found": found, "false_positives": fp,
                                           "recall": round(found / n, 3), "ms_per_frame": None,
                                           "seconds_all_videos": round(time.perf_counter() - start, 1)}
    return {"how": ann["how"], "rows": rows}


def _artifacts(cache: Path, stage: str, name: str) -> list[Path]:
    return sorted((cache / stage).glob(f"*/*/{name}"))


def _onset(track: DubTrack, directory: Path, line_id: str) -> int:
    import soundfile as sf

    d = next(ln for ln in track.lines if ln.id == line_id)
    samples, rate = sf.read(directory / d.clip, dtype="float32", always_2d=False)
    return d.dub_start_ms + speech_bounds(samples, rate)[0]


def bench_lipalign(tmp: Path) -> dict:
    ann = json.loads((ROOT / "bench" / "data" / "mouth_openings.json").read_text())
    truth = {ln["id"]: ln["mouth_open_ms"] for ln in ann["lines"] if ln.get("mouth_open_ms")}
    markets = tmp / "markets.toml"
    from localize.core.markets import get_market

    def voices(lang: str) -> str:
        base = get_market(lang)
        return (f"tts = {json.dumps(list(base.tts))}\n"
                f"voices = {{ {', '.join(f'{k} = {json.dumps(v)}' for k, v in base.voices.items())} }}\n")

    markets.write_text("".join(
        f'[{lang}-lips-{m}]\nname = "{lang} lip-aligned ({m})"\nlanguage = "{lang[:2]}"\n{voices(lang)}'
        f'picture = {{ lip_align = true, lip_mouth = "{m}" }}\n\n' for lang in ("pt-BR", "en-US") for m in ("haar", "dlib")))
    cache = tmp / "cache"
    options = RunOptions(cache_dir=cache, markets_files=(markets,))
    start = time.perf_counter()
    result = localize_episode(ROOT / "samples" / "episode.mp4", [f"{lang}-lips-{m}" for lang in ("pt-BR", "en-US")
                                                                for m in ("haar", "dlib")], tmp / "out", options=options)
    seconds = round(time.perf_counter() - start, 1)
    script = jsonio.load(Script, Path(result.transcript))
    dubs = {jsonio.load(DubTrack, p).language: (jsonio.load(DubTrack, p), p.parent)
            for p in _artifacts(cache, "dub", "dub.json")}
    faces = {}
    for p in _artifacts(cache, "faces", "mouth.json"):
        activity = jsonio.load(MouthActivity, p)
        faces[activity.method] = (jsonio.load(FaceTracks, p.parent / "faces.json"), activity)
    rows, shifted = [], []
    for p in _artifacts(cache, "lipalign", "dub.json"):
        aligned = jsonio.load(DubTrack, p)
        report = json.loads((p.parent / "lipalign.json").read_text())
        method = report["method"]
        original, dub_dir = dubs[aligned.language]
        for line in report["lines"]:
            if line["id"] not in truth:
                continue
            rows.append({"language": aligned.language, "method": method, "line": line["id"], "face": line["face"],
                         "annotated_open_ms": truth[line["id"]], "detected_open_ms": line["mouth_open_ms"],
                         "before_ms": line["onset_before_ms"] - truth[line["id"]],
                         "after_ms": line["onset_after_ms"] - truth[line["id"]]})
        tracks, activity = faces[method]
        linked = speaking_faces(script.lines, tracks, activity)
        for delta in (-300, -150, 150, 300):
            moved = replace(original, lines=tuple(
                replace(d, dub_start_ms=d.dub_start_ms + delta, dub_end_ms=d.dub_end_ms + delta)
                if d.id in truth else d for d in original.lines))
            out = tmp / f"shift-{aligned.language}-{method}-{delta}"
            new, _ = align_track(moved, dub_dir, script.lines, linked, activity, out, duration_ms=script.duration_ms)
            for line_id, t in truth.items():
                shifted.append({"language": aligned.language, "method": method, "shift_ms": delta, "line": line_id,
                                "before_ms": _onset(moved, dub_dir, line_id) - t,
                                "after_ms": _onset(new, out, line_id) - t})
    summary = {}
    for method in sorted(faces):
        for name, data in (("as dubbed", rows), ("displaced ±150/300 ms", shifted)):
            sel = [r for r in data if r["method"] == method]
            summary[f"{method}: {name}"] = {"n": len(sel), "before": offset_stats([r["before_ms"] for r in sel]),
                                            "after": offset_stats([r["after_ms"] for r in sel])}
        det = [r["detected_open_ms"] - r["annotated_open_ms"] for r in rows if r["method"] == method]
        summary[f"{method}: detected opening - annotated"] = {"n": len(det), "errors_ms": sorted(set(det))}
    return {"how": ann["how"], "seconds_pipeline": seconds, "rows": rows, "shifted": shifted, "summary": summary}


def write(faces: dict, lips: dict) -> None:
    info = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faces.json").write_text(json.dumps({"machine": info, **faces}, indent=2) + "\n")
    (RESULTS / "lipalign.json").write_text(json.dumps({"machine": info, **lips}, indent=2) + "\n")
    lines = ["# Face detection against hand annotations", "",
             f"Machine: {info['cpu_model']} ({info['nproc']} cores, load {info['load_average_at_start'][0]}), {info.get('date', '')}. Annotations: bench/data/faces.json "
             "(14 video frames and the astronaut image, one face each).", "",
             "| detector | faces | found | recall | false positives | ms per frame |", "|---|---|---|---|---|---|"]
    for name, r in faces["rows"].items():
        lines.append(f"| {name} | {r['faces']} | {r['found']} | {r['recall']:.2f} | {r['false_positives']} | "
                     f"{r['ms_per_frame'] if r['ms_per_frame'] is not None else '-'} |")
    lines += ["", f"How the frames were annotated: {faces['how']}", "",
              "Re-run: `.venv/bin/python bench/bench_picture.py`", ""]
    (RESULTS / "faces.md").write_text("\n".join(lines))
    out = ["# Lip alignment on the sample episode", "",
           f"Machine: {info['cpu_model']} ({info['nproc']} cores, load {info['load_average_at_start'][0]}), {info.get('date', '')}. `localize_episode` on samples/episode.mp4 "
           f"into pt-BR and en-US with picture.lip_align, mouth activity from Haar and from dlib "
           f"({lips['seconds_pipeline']} s for the four markets, cold cache).", "",
           "Offset = the dub's speech onset (energy onset of its clip) minus the mouth opening annotated by hand "
           "(bench/data/mouth_openings.json), over the sample's two on-screen lines in both languages.", "",
           "| mouth activity: dubs | lines | mean abs offset before | p90 before | mean abs after | p90 after |",
           "|---|---|---|---|---|---|"]
    for name, s in lips["summary"].items():
        if "before" in s:
            out.append(f"| {name} | {s['n']} | {s['before'][0]} ms | {s['before'][1]} ms | {s['after'][0]} ms | "
                       f"{s['after'][1]} ms |")
    out += ["", "Detected opening minus annotated opening (ms), per method:", ""]
    for name, s in lips["summary"].items():
        if "errors_ms" in s:
            out.append(f"- {name}: {s['errors_ms']}")
    out += ["", "Per line, as dubbed:", "", "| language | method | line | face | annotated | detected | before | after |",
            "|---|---|---|---|---|---|---|---|"]
    for r in lips["rows"]:
        out.append(f"| {r['language']} | {r['method']} | {r['line']} | {r['face']} | {r['annotated_open_ms']} | "
                   f"{r['detected_open_ms']} | {r['before_ms']:+d} | {r['after_ms']:+d} |")
    out += ["", "The first line is an off-screen voice; its dub is left alone (no talking face is linked to its "
            "speaker).", "", f"How the openings were annotated: {lips['how']}", "",
            "Re-run: `.venv/bin/python bench/bench_picture.py`", ""]
    (RESULTS / "lipalign.md").write_text("\n".join(out))


def main() -> None:
    faces = bench_faces()
    for name, r in faces["rows"].items():
        print(f"{name:32s} recall {r['recall']:.2f} ({r['found']}/{r['faces']}), false positives {r['false_positives']}")
    with tempfile.TemporaryDirectory() as tmp:
        lips = bench_lipalign(Path(tmp))
    for name, s in lips["summary"].items():
        print(name, s)
    write(faces, lips)


if __name__ == "__main__":
    main()
