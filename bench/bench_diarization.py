"""Benchmark the speaker stage (localize.stages.script.speakers) on a mix of real voices with known speakers.

The mix: the speech files of ../shared/media/speech whose speaker is known, cut at their pauses,
then interleaved like dialogue and concatenated with short gaps into one 16 kHz mono wav:

- LJ001-0001..0008.wav: one female reader (LJSpeech, public domain)
- jfk.flac: JFK 1961 (public domain)
- stereo_diarization.wav: its left and right channels, each a different speaker, taken apart
  (faster-whisper tests, MIT)
- sr_english_one_two_three.wav: one speaker (Uberi/speech_recognition, BSD-3)
- this_is_a_test.mp3: one voice, maybe synthetic (Softcatala/open-dubbing, Apache-2.0)

Licences per file: ../shared/media/speech/transcripts.tsv. Left out: multilingual.mp3 (who reads
is undocumented), sr_chinese.flac (1 s), and video/talking_man_outdoors.mp4, whose first 2.4 s
sound like an off-camera question (Whisper hears a question, then an answer; that span's embedding
has cosine 0.48 to the rest), so its reference speakers are not known. Temp files go to a temp
folder that is removed; only the results are kept.

Lines are the known segments (a segment = speech between pauses of `--pause-ms` or more, found by
webrtcvad and an energy gate, and at most `--max-ms` long), so the scores measure speaker
labelling alone, not voice activity detection or ASR.
Segments are interleaved by always taking the next segment of the speaker with the smallest share
of its speech already placed, so every voice keeps coming back through the mix.

It runs ``assign_speakers`` with the number of speakers unknown (threshold) and known, and reports:
- diarization error: the share of speech time given to the wrong speaker after the best one-to-one
  mapping of hypothesis to reference speakers (DER with no missed speech, no false alarm and no
  overlap, since lines are the reference segments), computed here and, where it is installed,
  with pyannote.metrics (DiarizationErrorRate, collar 0) as a cross-check;
- the number of speakers found, and a sweep of the clustering threshold;
- cosine similarities of line embeddings, same voice vs different voice, by line length, and of
  per-speaker means across two "episodes", which is what the cast matches on;
- the cast run: each speaker's segments alternate between episode 1 (new characters) and
  episode 2 (matched), and whether each reference speaker kept its character;
- the embedding real-time factor (embedding seconds / audio seconds), model load apart.

    .venv/bin/python bench/bench_diarization.py [--gap-ms 250] [--pause-ms 200] [--max-ms 4000] [--results DIR]

Writes bench/results/diarization.json and diarization.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from machine import machine_info as base_machine_info  # bench/machine.py (this folder is on sys.path)

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media" / "speech"
DEFAULT_RESULTS = ROOT / "bench" / "results"
RATE = 16_000

# (speaker, file under speech/, ffmpeg audio filter picking a channel or None)
SOURCES = [
    *[("LJ", f"en/ljspeech/LJ001-000{i}.wav", None) for i in range(1, 9)],
    ("JFK", "en/jfk.flac", None),
    ("stereo_L", "mixed/stereo_diarization.wav", "pan=mono|c0=c0"),
    ("stereo_R", "mixed/stereo_diarization.wav", "pan=mono|c0=c1"),
    ("one_two_three", "en/sr_english_one_two_three.wav", None),
    ("this_is_a_test", "en/this_is_a_test.mp3", None),
]


@dataclass(frozen=True)
class Segment:
    speaker: str
    source: str
    samples: np.ndarray


def decode(path: Path, audio_filter: str | None) -> np.ndarray:
    af = ["-af", audio_filter] if audio_filter else []
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), *af, "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


def speech_runs(wav: np.ndarray, *, pause_ms: int, max_ms: int, frame_ms: int = 30, below_peak_db: float = 30.0,
                pad_ms: int = 60, min_ms: int = 200) -> list[tuple[int, int]]:
    """(start, end) sample ranges of speech: frames webrtcvad (mode 2) calls voiced and within
    `below_peak_db` of the loudest frame (this_is_a_test.mp3 has 1.7 s of -37 dBFS noise before its
    words), joined across pauses shorter than `pause_ms`, padded by `pad_ms`; a run longer than
    `max_ms` (a line length) is cut at its quietest frame in the middle third, again until every
    piece fits."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad imports pkg_resources
        import webrtcvad

    vad = webrtcvad.Vad(2)
    hop = RATE * frame_ms // 1000
    frames = len(wav) // hop
    pcm = (np.clip(wav[: frames * hop], -1, 1) * 32767).astype("<i2")
    voiced = [vad.is_speech(pcm[i * hop:(i + 1) * hop].tobytes(), RATE) for i in range(frames)]
    energy = np.sqrt(np.mean(wav[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(energy + 1e-10)
    voiced = np.asarray(voiced) & (db > db.max() - below_peak_db)
    runs: list[list[int]] = []
    for i in np.flatnonzero(voiced):
        if runs and (i - runs[-1][1]) * frame_ms < pause_ms:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    pieces: list[tuple[int, int]] = []
    todo = [tuple(r) for r in runs]
    while todo:
        a, b = todo.pop(0)
        if (b - a) * frame_ms <= max_ms:
            pieces.append((a, b))
            continue
        lo, hi = a + (b - a) // 3, b - (b - a) // 3
        cut = lo + int(np.argmin(energy[lo:hi]))
        todo[:0] = [(a, cut), (cut + 1, b)]
    pad = RATE * pad_ms // 1000
    out = [(max(a * hop - pad, 0), min(b * hop + pad, len(wav))) for a, b in pieces]
    return [(a, b) for a, b in out if (b - a) * 1000 // RATE >= min_ms]


def build_segments(pause_ms: int, max_ms: int) -> list[Segment]:
    segments = []
    for speaker, rel, audio_filter in SOURCES:
        wav = decode(MEDIA / rel, audio_filter)
        segments += [Segment(speaker, rel, wav[a:b]) for a, b in speech_runs(wav, pause_ms=pause_ms, max_ms=max_ms)]
    return segments


def interleave(segments: list[Segment]) -> list[Segment]:
    """Dialogue order: next comes the speaker with the smallest share of its speech placed so far."""
    queues: dict[str, list[Segment]] = {}
    for s in segments:
        queues.setdefault(s.speaker, []).append(s)
    total = {k: sum(len(s.samples) for s in v) for k, v in queues.items()}
    placed = dict.fromkeys(queues, 0)
    order: list[Segment] = []
    last = None
    while any(queues.values()):
        ready = [k for k in queues if queues[k]]
        choices = [k for k in ready if k != last] or ready
        k = min(choices, key=lambda k: (placed[k] / total[k], k))
        seg = queues[k].pop(0)
        placed[k] += len(seg.samples)
        order.append(seg)
        last = k
    return order


def build_mix(segments: list[Segment], gap_ms: int, wav_path: Path):
    from localize.core.artifacts import Line, Script

    gap = np.zeros(RATE * gap_ms // 1000, dtype=np.float32)
    pieces, lines, refs, pos = [gap], [], [], len(gap)
    for i, seg in enumerate(segments):
        start, end = pos * 1000 // RATE, (pos + len(seg.samples)) * 1000 // RATE
        lines.append(Line(id=f"L{i + 1:03d}", start_ms=start, end_ms=end, text=""))
        refs.append(seg.speaker)
        pieces += [seg.samples, gap]
        pos += len(seg.samples) + len(gap)
    mix = np.concatenate(pieces)
    sf.write(str(wav_path), mix, RATE, subtype="PCM_16")
    script = Script(language="en", duration_ms=len(mix) * 1000 // RATE, lines=tuple(lines),
                    backend="reference", model="")
    return script, refs


# ------------------------------------------------------------------------------------------------
# Scores.


def confusion(lines, refs: list[str], hyps: list[str]) -> dict:
    """Speech time on the wrong speaker after the best one-to-one hypothesis -> reference mapping."""
    from scipy.optimize import linear_sum_assignment

    ref_names, hyp_names = sorted(set(refs)), sorted(set(hyps))
    overlap = np.zeros((len(ref_names), len(hyp_names)))
    for line, r, h in zip(lines, refs, hyps):
        overlap[ref_names.index(r), hyp_names.index(h)] += line.duration_ms
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    total = float(overlap.sum())
    correct = float(overlap[rows, cols].sum())
    mapping = {hyp_names[c]: ref_names[r] for r, c in zip(rows, cols)}
    return {"der": (total - correct) / total, "speech_s": total / 1000, "confused_s": (total - correct) / 1000,
            "speakers_found": len(hyp_names), "speakers_reference": len(ref_names), "mapping": mapping}


def pyannote_der(lines, refs: list[str], hyps: list[str]) -> float | None:
    try:
        import warnings

        from pyannote.core import Annotation, Timeline
        from pyannote.core import Segment as PSegment
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError:
        return None
    ref, hyp = Annotation(), Annotation()
    for line, r, h in zip(lines, refs, hyps):
        seg = PSegment(line.start_ms / 1000, line.end_ms / 1000)
        ref[seg] = r
        hyp[seg] = h
    uem = Timeline([PSegment(0, lines[-1].end_ms / 1000)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(DiarizationErrorRate(collar=0.0, skip_overlap=False)(ref, hyp, uem=uem))


def similarity_stats(emb: np.ndarray, refs: list[str], durations: np.ndarray) -> dict:
    sims = emb @ emb.T
    same = np.equal.outer(np.array(refs), np.array(refs))
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    out = {}
    for label, mask in (("all lines", np.ones(len(refs), bool)),
                        ("lines >= 1 s", durations >= 1000),
                        ("lines < 1 s (vs any line)", durations < 1000)):
        pair = upper & (mask[:, None] | mask[None, :]) if label.startswith("lines <") else upper & np.outer(mask, mask)
        s, d = sims[pair & same], sims[pair & ~same]
        out[label] = {
            "same_n": int(s.size), "same_mean": _r(s.mean()) if s.size else None,
            "same_p05": _r(np.percentile(s, 5)) if s.size else None, "same_min": _r(s.min()) if s.size else None,
            "diff_n": int(d.size), "diff_mean": _r(d.mean()) if d.size else None,
            "diff_p95": _r(np.percentile(d, 95)) if d.size else None, "diff_max": _r(d.max()) if d.size else None,
        }
    return out


def episode_means(embeddings: list[np.ndarray], refs: list[list[str]]) -> dict:
    """Cosine of per-speaker mean line embeddings, episode 1 vs episode 2."""
    means = []
    for emb, rs in zip(embeddings, refs):
        rs_arr = np.array(rs)
        sums = {k: emb[rs_arr == k].mean(axis=0) for k in sorted(set(rs))}
        means.append({k: v / np.linalg.norm(v) for k, v in sums.items()})
    table = {f"{a}|{b}": _r(float(va @ vb)) for a, va in means[0].items() for b, vb in means[1].items()}
    same = {k: table[f"{k}|{k}"] for k in means[0] if k in means[1]}
    diff = [v for key, v in table.items() if key.split("|")[0] != key.split("|")[1]]
    return {"pairs": table, "same": same, "same_min": min(same.values()) if same else None,
            "diff_max": max(diff) if diff else None}


def _r(x: float) -> float:
    return round(float(x), 3)


# ------------------------------------------------------------------------------------------------


def machine_info() -> dict:
    import torch

    return base_machine_info(torch=torch.__version__, torch_threads_default=torch.get_num_threads())


def run(args: argparse.Namespace, tmp: Path) -> dict:
    from localize.stages.script.speakers import (
        DEFAULT_THRESHOLD,
        MATCH_THRESHOLD,
        MIN_RELIABLE_MS,
        MIN_WINDOW_MS,
        CastRegistry,
        Embedder,
        assign_speakers,
        cluster_speakers,
        embed_lines,
        model_version,
        reliable_mask,
    )

    machine = machine_info()
    all_segments = build_segments(args.pause_ms, args.max_ms)
    segments = interleave(all_segments)
    wav = tmp / "mix.wav"
    script, refs = build_mix(segments, args.gap_ms, wav)
    lines = script.lines
    durations = np.array([line.duration_ms for line in lines])
    audio_s = script.duration_ms / 1000
    print(f"mix: {audio_s:.1f} s, {len(lines)} lines, {len(set(refs))} speakers", flush=True)

    # Embedding speed: load apart; the first call also pays librosa's one-time set-up.
    t0 = time.perf_counter()
    embedder = Embedder()
    embedder.load()
    load_s = time.perf_counter() - t0
    embed_runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        emb = embed_lines(wav, lines, embedder=embedder)
        embed_runs.append(time.perf_counter() - t0)
    threads = {}
    for n in (1, 2):
        e2 = Embedder(threads=n)
        e2.load()
        t0 = time.perf_counter()
        embed_lines(wav, lines, embedder=e2)
        threads[f"{n}"] = _r(time.perf_counter() - t0)

    # assign_speakers end to end (it embeds again; reuse the loaded model).
    runs = {}
    for key, n in (("unknown", None), ("known", len(set(refs)))):
        t0 = time.perf_counter()
        out = assign_speakers(script, wav, n_speakers=n, embedder=embedder)
        wall = time.perf_counter() - t0
        hyps = [line.speaker for line in out.lines]
        score = confusion(lines, refs, hyps)
        score["der_pyannote"] = pyannote_der(lines, refs, hyps)
        score["n_speakers_given"] = n
        score["seconds"] = _r(wall)
        score["wrong_lines"] = [
            {"id": line.id, "ms": line.duration_ms, "ref": r, "hyp": h, "mapped": score["mapping"].get(h)}
            for line, r, h in zip(lines, refs, hyps) if score["mapping"].get(h) != r
        ]
        runs[key] = score
        print(f"{key}: DER {score['der']:.3f} (pyannote {score['der_pyannote']}), "
              f"{score['speakers_found']} speakers found", flush=True)

    # Threshold sweep (clustering only, on the same embeddings).
    sweep = []
    for min_ms in (0, MIN_RELIABLE_MS, 1000):
        reliable = reliable_mask(lines, min_ms=min_ms)
        for t in np.round(np.arange(0.15, 0.61, 0.05), 2):
            labels = cluster_speakers(emb, threshold=float(t), reliable=reliable)
            s = confusion(lines, refs, [str(x) for x in labels])
            sweep.append({"min_reliable_ms": min_ms, "threshold": float(t), "der": _r(s["der"]),
                          "speakers_found": s["speakers_found"]})

    # Two "episodes": each speaker's segments alternate between them (a speaker with one segment
    # is only in the first), each episode interleaved on its own.
    counter: dict[str, int] = {}
    episodes: list[list[Segment]] = [[], []]
    for seg in all_segments:
        episodes[counter.get(seg.speaker, 0) % 2].append(seg)
        counter[seg.speaker] = counter.get(seg.speaker, 0) + 1
    episodes = [interleave(ep) for ep in episodes]
    sims = similarity_stats(emb, refs, durations)
    ref_arr = np.array(refs)
    speaker_means = {k: emb[ref_arr == k].mean(axis=0) for k in sorted(set(refs))}
    speaker_means = {k: v / np.linalg.norm(v) for k, v in speaker_means.items()}
    mean_pairs = {f"{a}|{b}": _r(float(speaker_means[a] @ speaker_means[b]))
                  for a in speaker_means for b in speaker_means if a < b}
    # What average linkage compares: the mean cosine over all line pairs of two speakers.
    line_sims = emb @ emb.T
    linkage_pairs = {f"{a}|{b}": _r(float(line_sims[np.ix_(ref_arr == a, ref_arr == b)].mean()))
                     for a in speaker_means for b in speaker_means if a < b}

    # Cast run: episode 1 creates the characters, episode 2 is matched against them.
    cast_path = tmp / "cast.json"
    cast_result = {}
    ep_embeddings, ep_refs_all = [], []
    for number, ep_segments in enumerate(episodes, 1):
        episode = f"ep{number}"
        ep_script, ep_refs = build_mix(ep_segments, args.gap_ms, tmp / f"{episode}.wav")
        ep_embeddings.append(embed_lines(tmp / f"{episode}.wav", ep_script.lines, embedder=embedder))
        ep_refs_all.append(ep_refs)
        cast = CastRegistry.load(cast_path, "bench")
        out = assign_speakers(ep_script, tmp / f"{episode}.wav", cast=cast, episode=episode, embedder=embedder)
        cast.save()
        hyps = [line.speaker for line in out.lines]
        per_ref: dict[str, dict[str, int]] = {}
        for line, r, c in zip(ep_script.lines, ep_refs, hyps):
            per_ref.setdefault(r, {}).setdefault(c, 0)
            per_ref[r][c] += line.duration_ms
        cast_result[episode] = {
            "audio_s": ep_script.duration_ms / 1000,
            "lines": len(ep_script.lines),
            "characters_after": len(cast),
            "der": _r(confusion(ep_script.lines, ep_refs, hyps)["der"]),
            "majority_character": {r: max(v, key=v.get) for r, v in sorted(per_ref.items())},
        }
    kept = {r: (cast_result["ep1"]["majority_character"].get(r), c)
            for r, c in cast_result["ep2"]["majority_character"].items()}
    cast_result["same_character_in_both"] = {r: a == b for r, (a, b) in kept.items() if a is not None}
    halves_sim = episode_means(ep_embeddings, ep_refs_all)
    embedder.release()

    return {
        "machine": machine,
        "model": model_version(),
        "settings": {"gap_ms": args.gap_ms, "pause_ms": args.pause_ms, "max_ms": args.max_ms,
                     "threshold": DEFAULT_THRESHOLD,
                     "match_threshold": MATCH_THRESHOLD, "min_reliable_ms": MIN_RELIABLE_MS,
                     "min_window_ms": MIN_WINDOW_MS},
        "mix": {"audio_s": audio_s, "lines": len(lines),
                "speech_s_per_speaker": {k: _r(durations[np.array(refs) == k].sum() / 1000) for k in sorted(set(refs))},
                "lines_per_speaker": {k: int((np.array(refs) == k).sum()) for k in sorted(set(refs))},
                "lines_under_1s": int((durations < 1000).sum()), "lines_under_600ms": int((durations < 600).sum()),
                "line_ms_min_median_max": [int(durations.min()), int(np.median(durations)), int(durations.max())]},
        "embed": {"model_load_s": _r(load_s), "runs_s": [_r(x) for x in embed_runs],
                  "rtf_first": _r(embed_runs[0] / audio_s), "rtf_best": round(min(embed_runs) / audio_s, 4),
                  "seconds_by_torch_threads": threads},
        "runs": runs,
        "threshold_sweep": sweep,
        "similarity_lines": sims,
        "similarity_episode_means": halves_sim,
        "similarity_speaker_means_whole_mix": mean_pairs,
        "similarity_average_line_pairs_whole_mix": linkage_pairs,
        "cast": cast_result,
        "der_tool": "own (Hungarian mapping on speech time); pyannote.metrics DiarizationErrorRate as a cross-check"
                    if runs["unknown"]["der_pyannote"] is not None else "own (pyannote.metrics not installed)",
        "argv": sys.argv[1:],
    }


def render_md(res: dict) -> str:
    m, mix, e = res["machine"], res["mix"], res["embed"]
    u, k = res["runs"]["unknown"], res["runs"]["known"]
    st = res["settings"]

    def der(run: dict) -> str:
        p = run["der_pyannote"]
        return f"{run['der'] * 100:.1f} %" + (f" (pyannote.metrics: {p * 100:.1f} %)" if p is not None else "")

    rows = [f"| {key} | {v['same_n']} | {v['same_mean']} | {v['same_p05']} | {v['same_min']} | "
            f"{v['diff_n']} | {v['diff_mean']} | {v['diff_p95']} | {v['diff_max']} |"
            for key, v in res["similarity_lines"].items()]
    sweep_thresholds = sorted({s["threshold"] for s in res["threshold_sweep"]})
    sweep_mins = sorted({s["min_reliable_ms"] for s in res["threshold_sweep"]})
    cell = {(s["min_reliable_ms"], s["threshold"]): f"{s['der'] * 100:.1f} % / {s['speakers_found']}"
            for s in res["threshold_sweep"]}
    sweep_rows = [f"| {t:.2f} | " + " | ".join(cell[(mn, t)] for mn in sweep_mins) + " |" for t in sweep_thresholds]
    hm = res["similarity_episode_means"]
    pairs = res["similarity_average_line_pairs_whole_mix"]
    closest = max(pairs, key=pairs.get)
    def wrong_lines(run: dict) -> str:
        return "; ".join(f"{w['id']} {w['ms']} ms {w['ref']}->{w['mapped'] or w['hyp']}"
                         for w in run["wrong_lines"]) or "none"

    def episode_line(key: str, after: str) -> str:
        ep = c[key]
        return (f"- episode {key[-1]} ({ep['audio_s']:.1f} s, {ep['lines']} lines): {ep['characters_after']} "
                f"characters{after}, DER {ep['der'] * 100:.1f} %, speaker -> character {ep['majority_character']}")

    wrong, wrong_k = wrong_lines(u), wrong_lines(k)
    c = res["cast"]
    return "\n".join([
        "# Speaker stage benchmark (localize.stages.script.speakers)",
        "",
        f"- machine: {m['cpu_model']}, {m['nproc']} CPUs (load {m['load_average_at_start'][0]}), {m['platform']}, "
        f"Python {m['python']}, torch {m['torch']}; {m['date']}",
        f"- model: {res['model']} (256-d), embedding on 1 torch thread",
        f"- mix: {mix['audio_s']:.1f} s, {mix['lines']} lines (reference segments cut at pauses >= "
        f"{st['pause_ms']} ms, and at most {st['max_ms']} ms, gaps {st['gap_ms']} ms), "
        f"{len(mix['lines_per_speaker'])} speakers; lines per speaker "
        f"{mix['lines_per_speaker']}; line length min/median/max {mix['line_ms_min_median_max']} ms, "
        f"{mix['lines_under_1s']} under 1 s, {mix['lines_under_600ms']} under 600 ms",
        f"- settings: clustering threshold {st['threshold']} (cosine distance, average linkage); a line under "
        f"{st['min_reliable_ms']} ms alone in its cluster is attached to the nearest cluster; short lines are embedded "
        f"from windows widened to {st['min_window_ms']} ms; cast match threshold {st['match_threshold']} "
        "(cosine similarity)",
        f"- DER: {res['der_tool']}. No missed speech, false alarm or overlap: the lines are the reference segments, "
        "so DER = confusion = speech time on the wrong speaker after the best one-to-one mapping.",
        "",
        "## Diarization",
        "",
        "| run | speakers found | DER | seconds |",
        "|---|---:|---:|---:|",
        f"| n_speakers unknown (threshold) | {u['speakers_found']} of {u['speakers_reference']} | {der(u)} "
        f"| {u['seconds']} |",
        f"| n_speakers = {k['n_speakers_given']} (known) | {k['speakers_found']} | {der(k)} | {k['seconds']} |",
        "",
        f"Wrong lines, unknown: {wrong}.",
        f"Wrong lines, known: {wrong_k}.",
        "",
        "## Threshold sweep (DER / speakers found), by the length under which a lone line is attached to the "
        "nearest cluster",
        "",
        "| threshold | " + " | ".join(f"short < {mn} ms" if mn else "never attached" for mn in sweep_mins) + " |",
        "|---|" + "---:|" * len(sweep_mins),
        *sweep_rows,
        "",
        "## Cosine similarity of line embeddings",
        "",
        "| lines | same-voice pairs | mean | p5 | min | different-voice pairs | mean | p95 | max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Per-speaker mean line embeddings, episode 1 vs episode 2 (what the cast matches on): "
        f"same speaker {hm['same']} (min {hm['same_min']}), different speakers max {hm['diff_max']}.",
        "",
        "Per-speaker mean line embeddings over the whole mix, different speakers: max "
        f"{max(res['similarity_speaker_means_whole_mix'].values())} "
        f"({max(res['similarity_speaker_means_whole_mix'], key=res['similarity_speaker_means_whole_mix'].get)}).",
        "",
        "## Cast across two episodes (each speaker's segments alternate between them)",
        "",
        episode_line("ep1", ""),
        episode_line("ep2", " after it"),
        f"- same character in both: {c['same_character_in_both']}",
        "",
        "## Why these thresholds",
        "",
        f"- clustering {st['threshold']} (cosine distance): the sweep's best, with the one-voice / two-voice "
        f"boundary of the line pairs on either side of it: same-voice lines of 1 s or more have cosine p5 "
        f"{res['similarity_lines']['lines >= 1 s']['same_p05']} (distance "
        f"{1 - res['similarity_lines']['lines >= 1 s']['same_p05']:.2f}); the closest two different voices "
        f"({closest}) have an average line-pair cosine (what average linkage compares) of "
        f"{res['similarity_average_line_pairs_whole_mix'][closest]} (distance "
        f"{1 - res['similarity_average_line_pairs_whole_mix'][closest]:.2f}). Lower "
        "splits noisy JFK lines into extra speakers, higher merges the closest voices. The valley is narrow "
        "on 33 lines: pass n_speakers when the cast size is known.",
        f"- short lines ({st['min_reliable_ms']} ms): a lone line under it cannot be a speaker by itself (the "
        "'never attached' column keeps one extra speaker); two or more short lines that agree can.",
        f"- cast match {st['match_threshold']} (cosine similarity of a cluster mean to a character mean): the "
        f"same speaker across the two episodes scores {hm['same_min']} or more, different speakers "
        f"{hm['diff_max']} or less here (whole clips of different voices, silences included, reached 0.72 "
        "when this was tuned: sr_english_one_two_three vs the stereo file's right channel).",
        "",
        "## Speed",
        "",
        f"- model load {e['model_load_s']} s; embed_lines over the whole mix: runs {e['runs_s']} s -> real-time factor "
        f"{e['rtf_first']} (first call, includes librosa's one-time set-up), {e['rtf_best']} (best)",
        f"- same call with torch threads 1 vs 2: {e['seconds_by_torch_threads']} s",
        "",
        f"Reproduce: `.venv/bin/python bench/bench_diarization.py {' '.join(res['argv'])}`".rstrip() + "",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gap-ms", type=int, default=250, help="silence between segments (default 250)")
    ap.add_argument("--pause-ms", type=int, default=200, help="a pause this long cuts a segment (default 200)")
    ap.add_argument("--max-ms", type=int, default=4000,
                    help="longer segments are cut at their quietest point (default 4000)")
    ap.add_argument("--repeats", type=int, default=3, help="embed_lines timing runs (default 3)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = ap.parse_args(argv)
    if not MEDIA.is_dir():
        print(f"{MEDIA} is absent: this benchmark needs ../shared/media", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="localize-diar-"))
    try:
        res = run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "diarization.json").write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    md = render_md(res)
    (args.results / "diarization.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
