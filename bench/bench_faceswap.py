"""Face swap identity on real video: the astronaut's face onto the people in ../shared/media/video.

The target face is ../shared/media/images/astronaut.png (NASA portrait, public domain). The consent
record the bench writes is a stand-in that only exercises the check (scope: this bench): nobody's
consent was asked for a benchmark on a public-domain portrait, and a real job needs a real one.

For each clip (the first `--seconds` of talking_man_outdoors.mp4 and standing_woman_noaudio.mp4),
the picture stage's frame loop (localize.stages.picture.frames.process_video) runs the classic swapper,
then localize.stages.picture.identity.measure_swap compares dlib's 128-d face embedding of the face in
`--samples` evenly spaced frames of the original and of the swapped picture with the target face's:
Euclidean distance (dlib: under 0.6 = same person) and cosine similarity, before and after, means
over the frames. It also times the loop with and without the swap, side by side in one run, and
writes a frame strip (original | swapped) per clip for a person to look at.

    .venv/bin/python bench/bench_faceswap.py [--seconds 4] [--samples 12]

Writes bench/results/faceswap.json, faceswap.md and faceswap-<clip>.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import machine_info

from localize.core.markets import FaceSwap
from localize.stages.picture.faceswap import FaceSwapProcessor
from localize.stages.picture.frames import process_video
from localize.stages.picture.identity import measure_swap

MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
CLIPS = {"talking_man": "video/talking_man_outdoors.mp4", "standing_woman": "video/standing_woman_noaudio.mp4"}


def consent(tmp: Path, face: Path) -> Path:
    record = tmp / "astronaut.consent.toml"
    record.write_text(
        f'face_sha256 = "{hashlib.sha256(face.read_bytes()).hexdigest()}"\n'
        'subject = "NASA astronaut portrait (public domain); stand-in record, no personal consent asked"\n'
        'granted_by = "bench_faceswap.py"\ngranted = 2026-01-01\n'
        '[scope]\nseries = ["bench"]\nmarkets = ["bench"]\npurpose = "benchmark of the face swap check and '
        'swapper only"\n', encoding="utf-8")
    return record


def cut(src: Path, dst: Path, seconds: float) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-t", str(seconds), "-an", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "12", str(dst)], check=True)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--samples", type=int, default=12)
    args = ap.parse_args()
    face = MEDIA / "images" / "astronaut.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        swap = FaceSwap(character="SPEAKER_00", face=str(face), consent=str(consent(tmp, face)))
        for name, rel in CLIPS.items():
            clip = cut(MEDIA / rel, tmp / f"{name}.mp4", args.seconds)
            t0 = time.perf_counter()
            process_video(clip, tmp / f"{name}-copy.mp4", [], fps=30.0 if name == "talking_man" else 25.0)
            plain_s = time.perf_counter() - t0
            proc = FaceSwapProcessor([swap], series="bench", market="bench")
            t0 = time.perf_counter()
            frames = process_video(clip, tmp / f"{name}-swap.mp4", [proc],
                                   fps=30.0 if name == "talking_man" else 25.0)
            swap_s = time.perf_counter() - t0
            stats = proc.stats()
            m = measure_swap(clip, tmp / f"{name}-swap.mp4", face, samples=args.samples,
                             strip=RESULTS / f"faceswap-{name}.png")
            rows.append({
                "clip": name, "source": rel, "frames": frames, "swapped": stats.swapped, "held": stats.held,
                "measured_frames": len(m.frames), "sampled": m.sampled,
                "target_distance_before": m.target_distance_before, "target_distance_after": m.target_distance_after,
                "original_distance_after": m.original_distance_after,
                "target_similarity_before": m.target_similarity_before,
                "target_similarity_after": m.target_similarity_after,
                "original_similarity_after": m.original_similarity_after,
                "loop_s_without_swap": round(plain_s, 2), "loop_s_with_swap": round(swap_s, 2),
                "swap_ms_per_frame": round((swap_s - plain_s) * 1000 / max(frames, 1), 1),
                "strip": str(Path(m.strip).relative_to(ROOT)) if m.strip else "",
            })
            print(json.dumps(rows[-1]))
    info = machine_info(seconds=args.seconds, samples=args.samples)
    (RESULTS / "faceswap.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Face swap (classic) identity", "",
        f"{info['date']}, {info['cpu_model']}, {info['nproc']} cores, Python {info['python']}.", "",
        (f"Target: ../shared/media/images/astronaut.png (public domain). First {args.seconds:g} s of each clip, "
         f"{args.samples} evenly spaced frames measured with dlib's 128-d face embedding "
         "(distance under 0.6 = same person for dlib)."), "",
        ("| clip | frames swapped | to target before (dist / cos) | to target after | to original after | "
         "loop s without / with swap | swap ms/frame |"),
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['swapped']}/{r['frames']} ({r['held']} held) | "
            f"{r['target_distance_before']:.3f} / {r['target_similarity_before']:.3f} | "
            f"{r['target_distance_after']:.3f} / {r['target_similarity_after']:.3f} | "
            f"{r['original_distance_after']:.3f} / {r['original_similarity_after']:.3f} | "
            f"{r['loop_s_without_swap']} / {r['loop_s_with_swap']} | {r['swap_ms_per_frame']} |")
    lines += ["", "Frame strips (original | swapped): " + ", ".join(
        f"[{r['clip']}]({Path(r['strip']).name})" for r in rows if r["strip"]) + ".", "",
        "Per frame: faceswap.json (`rows`). Re-run: `.venv/bin/python bench/bench_faceswap.py`.", ""]
    (RESULTS / "faceswap.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
