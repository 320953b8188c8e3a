"""Which face speaks each line, and lip alignment to it, on real talking heads (bench/talking_heads.py).

For every clip of the set (bench/data/talking_heads.json: real talking-head clips with their own sound,
single-face and two-face shots, split into `tune` and `report`): shots, Haar face tracks, mouth activity
and the speech envelope; then the speaking face of each ground-truth line by the speaker-level rule the
project used before (`before`: :func:`localize.stages.picture.mouth._speaker_faces`) and by the per-line
rule (`after`: :func:`speaking_faces`). A line is right when the linked track is the truth's face (the
largest face on screen for 'only', the face on that half for 'left'/'right', none for '').

Lip offsets: each line with a real speech onset (not cut at 0 ms) is dubbed by espeak-ng (its own text),
placed -300/-150/0/+150/+300 ms from the line's start as a misplaced slot would put it, and aligned to the
face the rule links (with the clip's other lines as the script around it); offset = the dub's speech onset
minus the line's speech onset in the source: its Whisper word start (`offset`), and the onset checked by hand
on the sound or the lips (`checked`, bench/data/talking_heads.json `onset_ms`, see its `onset_how`).

    .venv/bin/python bench/bench_talking_heads.py            # writes bench/results/talking_heads.{json,md}
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_info  # bench/machine.py
from talking_heads import prepare, truth  # bench/talking_heads.py

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from localize.core.artifacts import DubLine, DubTrack, Line  # noqa: E402
from localize.stages.picture.faces import FaceTracks, track_faces  # noqa: E402
from localize.stages.picture.lipalign import align_track, offset_stats, speech_bounds  # noqa: E402
from localize.stages.picture.mouth import _speaker_faces, mouth_activity, speaking_faces  # noqa: E402
from localize.stages.picture.shots import detect_shots  # noqa: E402

SHIFTS = (-300, -150, 0, 150, 300)


def true_track(tracks: FaceTracks, line: dict) -> str:
    if not line["face"]:
        return ""
    on = tracks.at((line["start_ms"] + line["end_ms"]) // 2)
    if line["face"] == "only":
        return max(on, key=lambda tb: tb[1][2] * tb[1][3])[0].id if on else "?"
    side = [(tr, b) for tr, b in on if ((b[0] + b[2] / 2) < tracks.width / 2) == (line["face"] == "left")]
    return max(side, key=lambda tb: tb[1][2] * tb[1][3])[0].id if side else "?"


def lip_offsets(clip: dict, lines: list[Line], linked: dict[str, str], activity, tmp: Path) -> list[dict]:
    checked = {ln["id"]: ln.get("onset_ms", ln["start_ms"]) for ln in clip["lines"]}
    import soundfile as sf

    from localize.stages.voice.tts.espeak import EspeakSynthesizer

    tts = EspeakSynthesizer()
    rows = []
    voice = "es" if clip["name"] == "talking_man_outdoors" else "en-us"
    for ln in lines:
        if ln.start_ms == 0 or not linked.get(ln.id):
            continue
        wav = tmp / f"{clip['name']}-{ln.id}.wav"
        tts.synthesize(ln.text, voice, wav)
        samples, rate = sf.read(wav, dtype="float32")
        length = round(len(samples) * 1000 / rate)
        onset = speech_bounds(samples, rate)[0]
        for shift in SHIFTS:
            start = ln.start_ms - onset + shift
            d = DubLine(id=ln.id, slot_start_ms=ln.start_ms, slot_end_ms=ln.end_ms, dub_start_ms=start,
                        dub_end_ms=start + length, natural_ms=length, speed=1.0, overflow_ms=0, clip=wav.name)
            track = DubTrack(language="en", backend="espeak", voice=voice, sample_rate=rate, max_speed=1.25,
                             lines=(d,))
            out = tmp / f"{clip['name']}-{ln.id}-{shift}"
            aligned, report = align_track(track, tmp, lines, linked, activity, out, duration_ms=ln.end_ms + 2000)
            a = aligned.lines[0]
            s2, r2 = sf.read(out / a.clip, dtype="float32")
            after = a.dub_start_ms + speech_bounds(s2, r2)[0]
            rows.append({"clip": clip["name"], "line": ln.id, "shift_ms": shift, "before_ms": shift,
                         "after_ms": after - ln.start_ms, "checked_before_ms": ln.start_ms + shift - checked[ln.id],
                         "checked_after_ms": after - checked[ln.id],
                         "moved": bool(a.lip_face), "evidence": report.lines[0].evidence})
    return rows


def run(method: str = "haar") -> dict:
    data, videos = truth(), prepare()
    clips, offsets = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in data["clips"]:
            video = videos[clip["name"]]
            dur = int(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                            "csv=p=0", str(video)], capture_output=True, text=True).stdout) * 1000)
            t0 = time.perf_counter()
            tracks = track_faces(video, detect_shots(video, dur))
            activity = mouth_activity(video, tracks, method=method)
            lines = [Line(id=ln["id"], start_ms=ln["start_ms"], end_ms=ln["end_ms"], text=ln["text"],
                          speaker=ln["speaker"]) for ln in clip["lines"]]
            before, after = _speaker_faces(lines, tracks, activity), speaking_faces(lines, tracks, activity)
            rows = [{"line": ln["id"], "truth": true_track(tracks, ln), "before": before[ln["id"]],
                     "after": after[ln["id"]]} for ln in clip["lines"]]
            clips.append({"name": clip["name"], "split": clip["split"], "faces": clip["faces"],
                          "tracks": len(tracks.tracks), "lines": rows, "duration_s": dur / 1000,
                          "seconds": round(time.perf_counter() - t0, 1)})
            for split_rows in (lip_offsets(clip, lines, after, activity, Path(tmp)),):
                offsets += [dict(r, split=clip["split"]) for r in split_rows]
            print(clip["name"], rows, flush=True)
    summary = {}
    for split in ("tune", "report"):
        rows = [r for c in clips if c["split"] == split for r in c["lines"]]
        off = [r for r in offsets if r["split"] == split]
        summary[split] = {
            "lines": len(rows),
            "right_before": sum(r["before"] == r["truth"] for r in rows),
            "right_after": sum(r["after"] == r["truth"] for r in rows),
            "offset_lines": len({(r["clip"], r["line"]) for r in off}),
            "moved_lines": len({(r["clip"], r["line"]) for r in off if r["moved"]}),
            "on_mouth": len({(r["clip"], r["line"]) for r in off if r.get("evidence") in ("mouth", "sound")}),
            "seconds_per_clip": round(sum(c["seconds"] for c in clips if c["split"] == split)
                                      / max(sum(c["split"] == split for c in clips), 1), 1),
            "offset_before": offset_stats([r["before_ms"] for r in off]),
            "offset_after": offset_stats([r["after_ms"] for r in off]),
            "offset_after_on_mouth": offset_stats([r["checked_after_ms"] for r in off
                                                   if r.get("evidence") in ("mouth", "sound")]),
            "checked_before": offset_stats([r["checked_before_ms"] for r in off]),
            "checked_after": offset_stats([r["checked_after_ms"] for r in off]),
        }
    return {"how": data["how"], "method": method, "clips": clips, "offsets": offsets, "summary": summary}


def write(res: dict, stem: str = "talking_heads") -> None:
    info = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": info, **res}, indent=2) + "\n")
    out = ["# Speaking faces and lip alignment on real talking heads", "",
           f"Machine: {info['cpu_model']} ({info['nproc']} cores), {info.get('date', '')}. Set: "
           "bench/data/talking_heads.json (sources, licences, ground truth; media fetched by "
           "bench/talking_heads.py). "
           "`before` = the speaker-level link the project used until now, `after` = the per-line rule "
           f"(localize/stages/picture/mouth.py), mouth measure `{res['method']}`. The rule's constants were set on "
           "the `tune` clips only.", "",
           "| split | lines | right before | right after | lines with an onset | of them moved | on a mouth opening | "
           "offset before mean / p90 | after mean / p90 | checked onset: before | checked onset: after | "
           "seconds per clip (shots, faces, mouths) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for split, s in res["summary"].items():
        out.append(f"| {split} | {s['lines']} | {s['right_before']} ({s['right_before'] / s['lines']:.0%}) | "
                   f"{s['right_after']} ({s['right_after'] / s['lines']:.0%}) | {s['offset_lines']} | "
                   f"{s.get('moved_lines', '-')} | {s.get('on_mouth', '-')} | "
                   f"{s['offset_before'][0]} / {s['offset_before'][1]} ms | {s['offset_after'][0]} / "
                   f"{s['offset_after'][1]} ms | {s['checked_before'][0]} / {s['checked_before'][1]} ms | "
                   f"{s['checked_after'][0]} / {s['checked_after'][1]} ms | {s.get('seconds_per_clip', '-')} |")
    out += ["", "Offsets: each line with a real onset dubbed by espeak-ng and placed "
            f"{'/'.join(f'{s:+d}' for s in SHIFTS)} ms from its slot, then aligned; offset = dub speech onset "
            "minus the source's speech onset: the line's Whisper word start (`offset`), or the onset checked by "
            "hand on the clip's sound or, for the two /p/-initial lines, its lips (`checked onset`, the number the "
            "goal is read on; bench/data/talking_heads.json `onset_ms`). A line with a linked face moves to "
            "its face's clear mouth opening where there is one near its start and it is the line's own (not an "
            "opening more than 100 ms after a start that follows the line before within 300 ms), or to the "
            "source's sound rising within 250 ms after it (`sound`); else to the line's speech onset (`speech`): "
            "its start, or after a pause the source's sound rise from it (localize/stages/picture/lipalign.py "
            "`line_events`). The lines aligned on a mouth opening or the sound just after it, against the "
            "checked onset: "
            + "; ".join(f"{k} {v['offset_after_on_mouth'][0]} / {v['offset_after_on_mouth'][1]} ms after "
                        f"({v.get('on_mouth', 0)} lines)" for k, v in res["summary"].items()) + ".", "",
            "| split | clip | faces shown | tracks | line | truth | before | after |",
            "|---|---|---|---|---|---|---|---|"]
    for c in res["clips"]:
        for r in c["lines"]:
            out.append(f"| {c['split']} | {c['name']} | {c['faces']} | {c['tracks']} | {r['line']} | "
                       f"{r['truth'] or '-'} | {r['before'] or '-'} | {r['after'] or '-'} |")
    out += ["", f"Ground truth: {res['how']}", "", "Re-run: `.venv/bin/python bench/bench_talking_heads.py`", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(out))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mouth", default="haar", help="mouth measure: haar (default), mesh, dlib")
    args = ap.parse_args()
    res = run(args.mouth)
    print(json.dumps(res["summary"], indent=1))
    write(res, "talking_heads" if args.mouth == "haar" else f"talking_heads_{args.mouth}")
