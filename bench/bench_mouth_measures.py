"""Which mouth measure tells the speaking face best, on the talking-head set (bench/talking_heads.py).

For every clip's Haar face tracks, each frame's mouth is measured five ways, each scaled 0..1 per track
as localize/stages/picture/mouth.py does (3-frame smoothing, 10th/90th percentiles):

* ``haar``: the project's default (darkest 5 % of the mouth box below its median);
* ``dlib``: dlib's inner-lip aspect ratio (the `faces` extra; its model is NON-COMMERCIAL);
* ``diff``: motion energy, the mean absolute difference of consecutive mouth crops (each crop
  standardised, so lighting changes do not count);
* ``flow``: Farneback optical flow in the mouth crop, its mean magnitude after removing the crop's
  median flow (the head's own movement);
* ``vflow``: the same, vertical component only (lips open up and down).

Per measure: lines whose speaking face :func:`speaking_faces` gets right, and for the two-face lines
(the clips' two-face shots plus the two-face case of tests/integration/test_lipalign_real.py, the man
of talking_man_outdoors beside a silent woman, tune) whether the true face correlates best with the
source's speech envelope. Choose on `tune`; `report` is shown only to check the choice.

    .venv/bin/python bench/bench_mouth_measures.py      # prints a markdown table (about 3 minutes)
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_talking_heads import true_track  # bench/bench_talking_heads.py
from talking_heads import prepare, truth  # bench/talking_heads.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from localize.core.artifacts import Line  # noqa: E402
from localize.stages.picture import mouth as M  # noqa: E402
from localize.stages.picture.faces import iter_frames, track_faces  # noqa: E402
from localize.stages.picture.shots import detect_shots  # noqa: E402

SHARED = ROOT.parent / "shared" / "media" / "video"
MAN_WOMAN_LINES = [{"id": "L002", "start_ms": 3300, "end_ms": 7800, "face": "right", "speaker": "A", "text": ""},
                   {"id": "L003", "start_ms": 8400, "end_ms": 9820, "face": "right", "speaker": "A", "text": ""}]


def _flow(crops: list[np.ndarray], vertical: bool) -> list[float]:
    out = [0.0]
    for a, b in itertools.pairwise(crops):
        f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 3, 5, 1.1, 0)
        f = f - np.median(f.reshape(-1, 2), axis=0)
        out.append(float(np.mean(np.abs(f[..., 1]))) if vertical else float(np.mean(np.hypot(f[..., 0], f[..., 1]))))
    return out


def _diff(crops: list[np.ndarray]) -> list[float]:
    z = [(c.astype(np.float32) - c.mean()) / (c.std() + 1e-6) for c in crops]
    return [0.0] + [float(np.mean(np.abs(b - a))) for a, b in itertools.pairwise(z)]


def measure(video: Path) -> tuple[M.FaceTracks, dict[str, M.MouthActivity]]:
    from localize.stages.picture.landmarks import landmarker

    lm = landmarker()
    dur = int(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                    str(video)], capture_output=True, text=True).stdout) * 1000)
    tracks = track_faces(video, detect_shots(video, dur))
    rec: dict[str, dict[str, list]] = {tr.id: {"t": [], "haar": [], "dlib": [], "crop": []} for tr in tracks.tracks}
    for _, t, frame in iter_frames(video):
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for tr, (x, y, w, h) in tracks.at(t):
            r = rec[tr.id]
            r["t"].append(t)
            r["haar"].append(M.haar_mouth_score(grey, (x, y, w, h)))
            r["dlib"].append(M.lip_aspect_ratio(lm.at(frame, (x, y, x + w, y + h)).points))
            y0, y1 = max(int(y + 0.6 * h), 0), min(int(y + 1.05 * h), grey.shape[0])
            x0, x1 = max(int(x + 0.2 * w), 0), min(int(x + 0.8 * w), grey.shape[1])
            r["crop"].append(cv2.resize(grey[y0:y1, x0:x1], (64, 48), interpolation=cv2.INTER_AREA))
    env = M.speech_envelope(video)
    raw = {"haar": lambda r: r["haar"], "dlib": lambda r: r["dlib"], "diff": lambda r: _diff(r["crop"]),
           "flow": lambda r: _flow(r["crop"], False), "vflow": lambda r: _flow(r["crop"], True)}
    acts = {name: M.MouthActivity(method=name, speech=env, curves=tuple(
        M.MouthCurve(track=tid, times_ms=tuple(r["t"]), values=tuple(M.scale01(M.smooth(f(r)))))
        for tid, r in rec.items() if r["t"])) for name, f in raw.items()}
    return tracks, acts


def main() -> None:
    data, videos = truth(), prepare()
    cases = [(c["name"], c["split"], c["faces"], c["lines"], videos[c["name"]]) for c in data["clips"]]
    tmp = Path(tempfile.mkdtemp())
    both = tmp / "man_woman.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-t", "10", "-i", str(SHARED / "talking_man_outdoors.mp4"), "-t", "10",
                    "-i", str(SHARED / "standing_woman_noaudio.mp4"), "-filter_complex",
                    "[0:v]scale=-2:480,setsar=1,fps=25[a];[1:v]scale=-2:480,setsar=1,fps=25[b];[b][a]hstack=2[v]",
                    "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(both)],
                   check=True)
    cases.append(("man_woman", "tune", 2, MAN_WOMAN_LINES, both))
    score: dict[tuple[str, str], list[int]] = {}
    for name, split, faces, truth_lines, video in cases:
        tracks, acts = measure(video)
        lines = [Line(id=ln["id"], start_ms=ln["start_ms"], end_ms=ln["end_ms"], text=ln["text"], speaker=ln["speaker"])
                 for ln in truth_lines]
        for meas, act in acts.items():
            s = score.setdefault((meas, split), [0, 0, 0, 0])
            got = M.speaking_faces(lines, tracks, act) if name != "man_woman" else {}
            for ln, t in zip(lines, truth_lines, strict=True):
                want = true_track(tracks, t)
                if name != "man_woman":
                    s[0] += got[ln.id] == want
                    s[1] += 1
                if faces == 2 and act.speech is not None:
                    r = {c.track: M._correlation(c, act.speech, ln.start_ms, ln.end_ms) or 0.0 for c in act.curves}
                    s[2] += max(r, key=lambda k: r[k]) == want
                    s[3] += 1
        print(name, flush=True)
    print("\n| measure | split | right face (speaking_faces) | two-face lines: true face correlates best |")
    print("|---|---|---|---|")
    for (meas, split), s in score.items():
        print(f"| {meas} | {split} | {s[0]}/{s[1]} | {s[2]}/{s[3]} |")


if __name__ == "__main__":
    main()
