"""Voice identity of the dub: speaker-embedding similarity (resemblyzer) to the original actor.

Episodes built from real speech (../shared/media): the eight LJSpeech clips (one female reader)
over the picture of standing_woman_noaudio.mp4, split into two episodes of four clips. Each is
dubbed into pt-BR with espeak-ng, once with voice matching (a variant chosen by the actor's pitch,
then a pitch shift toward her) and once without (the market's default voice). Reported:
- cosine similarity of each dubbed line to the original speaker's mean embedding, both ways;
- the same character's dub in episode 1 against episode 2 (the series cast keeps her voice).

    .venv/bin/python bench/bench_voice.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from machine import machine_info  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def build(tmp: Path, clips: list[Path], name: str) -> Path:
    inputs, filters = [], []
    for i, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        filters.append(f"[{i}:a]aresample=48000,apad=pad_dur=0.4[a{i}]")
    concat = "".join(f"[a{i}]" for i in range(len(clips))) + f"concat=n={len(clips)}:v=0:a=1[s]"
    out = tmp / f"{name}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-stream_loop", "-1", "-i",
                    str(MEDIA / "video" / "standing_woman_noaudio.mp4"), "-filter_complex",
                    ";".join([*filters, concat]), "-map", f"{len(clips)}:v", "-map", "[s]", "-shortest",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-c:a", "aac", str(out)], check=True)
    return out


def embed(encoder, path: Path) -> np.ndarray:
    from resemblyzer import preprocess_wav

    return encoder.embed_utterance(preprocess_wav(path))


def dub_clips(cache: Path) -> dict[str, list[Path]]:
    """Dub clip files of every dub artifact in the cache, by artifact."""
    return {str(p.parent): sorted(p.parent.glob("L*.wav")) for p in cache.glob("dub/*/*/dub.json")}


def main() -> int:
    import localize
    from localize.core.options import RunOptions
    from resemblyzer import VoiceEncoder

    if not MEDIA.is_dir():
        print(f"{MEDIA} is absent: this benchmark needs the shared media")
        return 2
    encoder = VoiceEncoder("cpu", verbose=False)
    clips = sorted((MEDIA / "speech" / "en" / "ljspeech").glob("LJ001-000*.wav"))
    actor = np.mean([embed(encoder, c) for c in clips], axis=0)
    actor /= np.linalg.norm(actor)
    results = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        episodes = [build(tmp, clips[:4], "ep1"), build(tmp, clips[4:], "ep2")]
        for matching in (False, True):
            cache = tmp / f"cache-{matching}"
            cast = tmp / f"series-{matching}" / "cast.json"
            per_episode = []
            for ep in episodes:
                before = set(dub_clips(cache))
                localize.localize_episode(ep, markets=["pt-BR"], out=tmp / f"out-{matching}", options=RunOptions(
                    cache_dir=cache, voice_matching=matching, cast_file=cast, speakers="on", n_speakers=1))
                new = [d for d in dub_clips(cache) if d not in before]
                files = [f for d in new for f in dub_clips(cache)[d]]
                per_episode.append(np.array([embed(encoder, f) for f in files]))
            sims = [float(e @ actor) for emb in per_episode for e in emb]
            means = [emb.mean(axis=0) / np.linalg.norm(emb.mean(axis=0)) for emb in per_episode]
            voices = json.loads(cast.read_text())["characters"][0]["voices"] if cast.exists() else {}
            results["matched" if matching else "default"] = {
                "lines": len(sims), "similarity_to_actor_mean": round(statistics.mean(sims), 3),
                "similarity_to_actor_min": round(min(sims), 3), "similarity_to_actor_max": round(max(sims), 3),
                "episode1_vs_episode2": round(float(means[0] @ means[1]), 3), "cast_voices": voices,
            }
            print(("matched" if matching else "default"), results["matched" if matching else "default"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "voice.json").write_text(json.dumps({"machine": machine_info(), "results": results}, indent=2))
    md = ["# Dub voice identity (resemblyzer cosine similarity)", "",
          "LJSpeech reader (female) dubbed into pt-BR with espeak-ng, two episodes of four clips.", "",
          "| voice | lines | similarity to the actor: mean (min-max) | episode 1 vs episode 2 | cast voice |",
          "|---|---:|---|---:|---|"]
    for key, r in results.items():
        md.append(f"| {key} | {r['lines']} | {r['similarity_to_actor_mean']:.3f} ({r['similarity_to_actor_min']:.3f}-"
                  f"{r['similarity_to_actor_max']:.3f}) | {r['episode1_vs_episode2']:.3f} | {r['cast_voices']} |")
    md += ["", "For scale: the same real voice scores about 0.80 and different real voices about 0.45 (see "
           "diarization.md). espeak-ng is a formant synthesizer, so its voices stay far from any real actor; "
           "the number to watch is the gain from matching, and the consistency across episodes.", "",
           "Re-run: `.venv/bin/python bench/bench_voice.py`"]
    (RESULTS / "voice.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
