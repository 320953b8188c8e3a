"""How many speakers the speaker stage finds, with the count not told, on real recordings with a known cast.

Each case is real speech with known speakers, cut into lines as the speaker stage receives them (the script's
own lines for the episodes, speech between pauses or fixed-length lines for the speech files), and run through
`localize.stages.script.speakers.assign_speakers` with ``n_speakers`` unknown, then known. The parts it clusters
(its line embeddings after the in-line change cuts) are saved, so count rules can be compared offline
(``--dump``).

Cases are marked `tune` (the count rule was set on them) or `check` (not looked at while setting it):

- tune: jfk.flac alone (lines at pauses, and fixed 2.0 s / 2.5 s lines: one man), stereo_diarization.wav's two
  channels taking turns in 1.2 s lines (two speakers, the closest pair here), samples/episode_zh.mp4 (2 women,
  the script's lines), bench_diarization.py's 6-speaker English mix;
- check: ../shared/media/drama/episode_B.mp4 (3: two men, one woman; the script lines of bench_understanding's
  'final' run), the outdoor man of talking_man_outdoors.mp4 alone (pauses, 2.5 s lines), the LJSpeech reader
  alone, LJ + JFK + the outdoor man (3), LJ and JFK in turns (2), the four Mandarin FireRedASR utterances
  one after the other (4 recordings from 3 corpora: 4 speakers presumably), each FireRedASR utterance
  of 2 lines or more alone (1), multilingual.mp3 (one reader? undocumented: reported, not scored).

    .venv/bin/python bench/bench_speaker_count.py [--label NAME] [--only CASE ...] [--dump parts.npz]

Writes bench/results/diarization-count.json (one column per label) and diarization-count.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
NAME = "diarization-count"
RATE = 16_000
FRAME_MS = 20


def decode(path: Path, channel: int | None = None) -> np.ndarray:
    af = ["-af", f"pan=mono|c0=c{channel}"] if channel is not None else []
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), *af, "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


def speech_spans(wav: np.ndarray, *, pause_ms: int = 200, max_ms: int = 4000) -> list[tuple[int, int]]:
    """As tests/integration/test_speakers.py: frames within 30 dB of the loudest joined across pauses
    under `pause_ms`, runs cut in equal parts of at most `max_ms`, parts under 300 ms dropped."""
    hop = RATE * FRAME_MS // 1000
    n = len(wav) // hop
    db = 20 * np.log10(np.sqrt(np.mean(wav[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)) + 1e-10)
    active = np.flatnonzero(db > db.max() - 30)
    runs: list[list[int]] = []
    for i in active:
        if runs and (i - runs[-1][1]) * FRAME_MS < pause_ms:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    spans = []
    for a, b in runs:
        parts = -(-(b - a) * FRAME_MS // max_ms)
        edges = np.linspace(a * FRAME_MS, b * FRAME_MS, parts + 1).astype(int)
        spans += [(int(s), int(e)) for s, e in itertools.pairwise(edges) if e - s >= 300]
    return spans


def chunks(start_ms: int, end_ms: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(start_ms, end_ms, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def concat(clips: list[tuple[str, np.ndarray]], *, gap_ms: int = 300, spans=speech_spans):
    """Clips one after another with gaps: the wav, its lines (start, end) and each line's voice."""
    gap = np.zeros(RATE * gap_ms // 1000, dtype=np.float32)
    pieces, lines, voices, pos = [gap], [], [], gap_ms
    for voice, wav in clips:
        for a, b in spans(wav):
            lines.append((pos + a, pos + b))
            voices.append(voice)
        pieces += [wav, gap]
        pos += len(wav) * 1000 // RATE + gap_ms
    return np.concatenate(pieces), lines, voices


def fixed(wav: np.ndarray, length_ms: int, gap_ms: int = 200) -> list[tuple[int, int]]:
    duration = len(wav) * 1000 // RATE
    return [(a, a + length_ms) for a in range(200, duration - length_ms, length_ms + gap_ms)]


def man_outdoors() -> np.ndarray:
    return decode(MEDIA / "video/talking_man_outdoors.mp4")[int(2.6 * RATE):]


def truth_voices(truth: list[dict], lines: list[tuple[int, int]]) -> list[str]:
    out = []
    for a, b in lines:
        best = max(truth, key=lambda t: min(b, t["end_ms"]) - max(a, t["start_ms"]))
        out.append(str(best["speaker"]))
    return out


def script_lines(label: str, episode: str) -> list[tuple[int, int]]:
    data = json.loads((RESULTS / "understanding.json").read_text())["labels"][label]["episodes"][episode]
    return [(s["start_ms"], s["end_ms"]) for s in data["script"]]


def case_builders() -> dict[str, tuple[str, int | None, object]]:  # noqa: C901
    """name -> (role, true count or None, builder returning (wav, lines, voices))."""

    def jfk(lines_ms):
        def build():
            wav = decode(MEDIA / "speech/en/jfk.flac")
            lines = speech_spans(wav) if lines_ms is None else fixed(wav, lines_ms)
            return wav, lines, ["JFK"] * len(lines)
        return build

    def man(lines_ms):
        def build():
            wav = man_outdoors()
            lines = speech_spans(wav) if lines_ms is None else fixed(wav, lines_ms)
            return wav, lines, ["M"] * len(lines)
        return build

    def turns():
        path = MEDIA / "speech/mixed/stereo_diarization.wav"
        clips = []
        for voice, ch in (("L", 0), ("R", 1)):
            w = decode(path, ch)
            (a, b), = speech_spans(w, max_ms=10_000)
            clips.append((voice, w[a * RATE // 1000: b * RATE // 1000]))
        wav, spans, voices = concat(clips, spans=lambda w: speech_spans(w, max_ms=10_000))
        lines, line_voices = [], []
        for (a, b), v in zip(spans, voices, strict=True):
            for span in chunks(a, b, max(1, round((b - a) / 1200))):
                lines.append(span)
                line_voices.append(v)
        return wav, lines, line_voices

    def episode_zh():
        truth = json.loads((ROOT / "samples/episode_zh.truth.json").read_text())["lines"]
        lines = script_lines("after", "sample_zh")
        return decode(ROOT / "samples/episode_zh.mp4"), lines, truth_voices(truth, lines)

    def episode_b():
        truth = json.loads((MEDIA / "drama/truth.json").read_text())["lines"]
        lines = script_lines("final", "drama_B")
        return decode(MEDIA / "drama/episode_B.mp4"), lines, truth_voices(truth, lines)

    def bench_mix():
        import bench_diarization as bd

        segments = bd.interleave(bd.build_segments(200, 4000))
        gap = np.zeros(RATE * 250 // 1000, dtype=np.float32)
        pieces, lines, voices, pos = [gap], [], [], len(gap)
        for seg in segments:
            lines.append((pos * 1000 // RATE, (pos + len(seg.samples)) * 1000 // RATE))
            voices.append(seg.speaker)
            pieces += [seg.samples, gap]
            pos += len(seg.samples) + len(gap)
        return np.concatenate(pieces), lines, voices

    def lj(*ids):
        return [("LJ", decode(MEDIA / f"speech/en/ljspeech/LJ001-000{i}.wav")) for i in ids]

    def lj_alone():
        return concat(lj(2, 4, 6, 8))

    def three():
        return concat([*lj(2), ("JFK", decode(MEDIA / "speech/en/jfk.flac")), ("M", man_outdoors())])

    def lj_jfk_turns():
        jfk_wav = decode(MEDIA / "speech/en/jfk.flac")
        parts = [("JFK", jfk_wav[a * RATE // 1000: b * RATE // 1000]) for a, b in speech_spans(jfk_wav)]
        lj5 = lj(5)[0][1]
        half = len(lj5) // 2
        return concat([("LJ", lj5[:half]), *parts[:2], ("LJ", lj5[half:]), *parts[2:]])

    zh = ["BAC009S0764W0121", "IT0011W0001", "TEST_MEETING_T0000000001_S00000",
          "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"]

    def zh_four():
        return concat([(n, decode(MEDIA / f"speech/zh/fireredasr_{n}.wav")) for n in zh], spans=lambda w: speech_spans(
            w, max_ms=2500))

    def zh_one(name):
        def build():
            return concat([(name, decode(MEDIA / f"speech/zh/fireredasr_{name}.wav"))],
                          spans=lambda w: speech_spans(w, max_ms=2500))
        return build

    def multilingual():
        wav = decode(MEDIA / "speech/mixed/multilingual.mp3")
        lines = speech_spans(wav)
        return wav, lines, ["?"] * len(lines)

    cases: dict[str, tuple[str, int | None, object]] = {
        "jfk_pauses": ("tune", 1, jfk(None)),
        "jfk_2000": ("tune", 1, jfk(2000)),
        "jfk_2500": ("tune", 1, jfk(2500)),
        "stereo_turns": ("tune", 2, turns),
        "episode_zh": ("tune", 2, episode_zh),
        "bench_mix": ("tune", 6, bench_mix),
        "episode_B": ("check", 3, episode_b),
        "man_pauses": ("check", 1, man(None)),
        "man_2500": ("check", 1, man(2500)),
        "lj_alone": ("check", 1, lj_alone),
        "lj_jfk_man": ("check", 3, three),
        "lj_jfk_turns": ("check", 2, lj_jfk_turns),
        "zh_four": ("check", 4, zh_four),
        "zh_meeting": ("check", 1, zh_one(zh[2])),
        "zh_net": ("check", 1, zh_one(zh[3])),
        "multilingual": ("check", None, multilingual),
    }
    return cases


def purity_coverage(lines, voices, labels) -> tuple[float, float]:
    joint: dict[tuple[str, str], int] = {}
    for (a, b), v, h in zip(lines, voices, labels, strict=True):
        joint[(v, h)] = joint.get((v, h), 0) + (b - a)
    total = sum(joint.values())
    hyps, refs = {h for _, h in joint}, {v for v, _ in joint}
    purity = sum(max(joint.get((v, h), 0) for v in refs) for h in hyps) / total
    coverage = sum(max(joint.get((v, h), 0) for h in hyps) for v in refs) / total
    return round(purity, 3), round(coverage, 3)


def run_case(name: str, build, embedder, tmp: Path, dump: dict) -> dict:
    import localize.stages.script.speakers as spk
    from localize.core.artifacts import Line, Script

    wav, spans, voices = build()
    path = tmp / f"{name}.wav"
    sf.write(path, wav, RATE, subtype="PCM_16")
    lines = tuple(Line(id=f"L{i:03d}", start_ms=a, end_ms=b, text="") for i, (a, b) in enumerate(spans))
    script = Script(language="xx", duration_ms=len(wav) * 1000 // RATE, lines=lines, backend="bench", model="")
    captured: dict = {"parts": []}
    real, real_part = spk.cluster_speakers, spk._Part

    def capture(embeddings, **kw):
        if kw.get("n_speakers") is None:
            captured["x"], captured["reliable"] = np.asarray(embeddings), np.asarray(kw.get("reliable"))
        return real(embeddings, **kw)

    def part(*a, **kw):
        made = real_part(*a, **kw)
        if "x" not in captured:  # the unknown-count run's parts (it clusters them last)
            captured["parts"].append(made)
        return made

    spk.cluster_speakers, spk._Part = capture, part
    try:
        out = spk.assign_speakers(script, path, embedder=embedder)
        n_true = len(set(voices))
        known = spk.assign_speakers(script, path, n_speakers=n_true, embedder=embedder)
    finally:
        spk.cluster_speakers, spk._Part = real, real_part
    # Part -> voice: a line cut in two keeps its voice for both parts (the cases' lines hold one voice).
    labels = [ln.speaker for ln in out.lines]
    line_voices = []
    for ln in out.lines:
        line_voices.append(voices[int(ln.id[1:4])])
    line_spans = [(ln.start_ms, ln.end_ms) for ln in out.lines]
    purity, coverage = purity_coverage(line_spans, line_voices, labels)
    if "x" in captured:
        dump[f"{name}/x"] = captured["x"]
        dump[f"{name}/reliable"] = captured["reliable"]
        parts = captured["parts"]
        dump[f"{name}/voices"] = np.array([voices[p.line] for p in parts])
        dump[f"{name}/spans"] = np.array([(p.start_ms, p.end_ms) for p in parts])
        dump[f"{name}/windows"] = np.concatenate([p.vectors for p in parts])
        dump[f"{name}/owner"] = np.concatenate([np.full(len(p.vectors), k) for k, p in enumerate(parts)])
    return {"lines": len(lines), "parts": len(captured.get("x", [])), "speakers_found": len(set(labels)),
            "purity": purity, "coverage": coverage,
            "known_found": len({ln.speaker for ln in known.lines}),
            "known_purity_coverage": purity_coverage([(ln.start_ms, ln.end_ms) for ln in known.lines],
                                                     [voices[int(ln.id[1:4])] for ln in known.lines],
                                                     [ln.speaker for ln in known.lines])}


def markdown(data: dict) -> str:
    labels = list(data["labels"])
    cases = list(dict.fromkeys(c for lab in labels for c in data["labels"][lab]["cases"]))
    out = ["# Speaker count without being told (bench/bench_speaker_count.py)", "",
           "speakers found / true, purity, coverage with the count unknown; `known`: speakers found with the true "
           "count given. tune: the count rule was set on these; check: not looked at while setting it.", "",
           "| case | role | true | " + " | ".join(labels) + " |", "|---|---|---:|" + "---:|" * len(labels)]
    for c in cases:
        row, role, true = [], "", ""
        for lab in labels:
            r = data["labels"][lab]["cases"].get(c)
            if r is None:
                row.append("")
                continue
            role, true = r["role"], "?" if r["true"] is None else str(r["true"])
            row.append(f"{r['speakers_found']} ({r['purity']:.3f}/{r['coverage']:.3f}), known {r['known_found']}")
        out.append(f"| {c} | {role} | {true} | " + " | ".join(row) + " |")
    out += ["", "Notes: episode_B is a check case, but it is what showed that the centroid distance alone merges its",
            "two men (centroids 0.298 apart), so the spread-ratio guard beside it was kept for it: no clean hold-out.",
            "'before' is the speaker code of 5395e9e (the 0.30 cut alone).",
            "zh_net is a single line (nothing to cluster). multilingual: the English half and the German half come out",
            "as two speakers; who reads is undocumented (median F0 132 vs 155 Hz), so it is not scored.",
            "", "Reproduce: `.venv/bin/python bench/bench_speaker_count.py --label NAME`", ""]
    for lab in labels:
        m = data["labels"][lab]["machine"]
        out.append(f"- {lab}: commit {m['commit']}, {m['date']}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="current")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--dump", type=Path, default=None, help="save the clustered parts' embeddings (npz)")
    args = ap.parse_args(argv)
    from localize.stages.script.speakers import Embedder

    cases = case_builders()
    results, dump = {}, {}
    with tempfile.TemporaryDirectory() as tmp, Embedder() as embedder:
        for name, (role, true, build) in cases.items():
            if args.only and name not in args.only:
                continue
            r = run_case(name, build, embedder, Path(tmp), dump)
            r.update(role=role, true=true)
            results[name] = r
            print(f"{name:14s} {role:5s} true {true} found {r['speakers_found']} purity {r['purity']} "
                  f"coverage {r['coverage']} known {r['known_found']} ({r['lines']} lines, {r['parts']} parts)",
                  flush=True)
    if args.dump:
        np.savez(args.dump, **dump)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    file = RESULTS / f"{NAME}.json"
    data = json.loads(file.read_text()) if file.exists() else {"labels": {}}
    entry = data["labels"].setdefault(args.label, {"cases": {}})
    entry["cases"].update(results)
    entry["machine"] = {"commit": commit, "date": dt.datetime.now().isoformat(timespec="seconds")}
    file.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    (RESULTS / f"{NAME}.md").write_text(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
