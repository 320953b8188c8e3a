"""A whole episode dubbed through each speech-service TTS backend against its local server.

Episode: ../shared/media/drama/episode_B.mp4 (46.6 s, 8 lines, speakers A and B men, C a woman), its
lines and speakers from truth.json, its en-US text from the human reference.en.srt (one cue per line).
The voice stage runs as the pipeline runs it (casting from a series cast, the dub, the cast keeping
what the dub made) through:

* ``openai-speech`` against tests/support/speech_servers.OpenAISpeechServer (A ``onyx``, B ``echo``,
  C ``clone``: her reference clip sent as vLLM-Omni's ``ref_audio``);
* ``elevenlabs`` against tests/support/speech_servers.ElevenLabsServer (A George by id, B ``clone``:
  an instant clone made from his reference clip, C Sarah by id);
* ``piper`` in process (every character in en_US-joe-medium), the baseline the servers speak with.

Both servers speak with Piper's packaged voice pitch-shifted per voice, and answer the first two speech
requests with 429 and 500 (so the retries are measured). Reported per backend: seconds of the voice stage
(casting + dub, cold cache, on this machine), back-transcription WER (Whisper base, all lines together,
case and punctuation removed), speech requests, retries, voices made. Nothing was tuned on episode B:
the voice shifts and retry settings were fixed before its first run; the stand-ins' shift keeping
formants was chosen on the sample's test (samples/episode_zh.mp4), where the plain shift of its female
voice came back at WER 0.38.

    .venv/bin/python bench/bench_speech_services.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localize.core.cache import ArtifactStore  # noqa: E402
from localize.core.markets import get_market, load_markets  # noqa: E402
from localize.stages.voice.stage import Voice  # noqa: E402
from localize.stages.voice.tts import elevenlabs as el  # noqa: E402
from localize.stages.voice.tts import openai_speech as oa  # noqa: E402
from localize.stages.voice.tts.piper import PiperSynthesizer  # noqa: E402
from tests.support.dub_episode import back_wer, dub_episode, load_episode, make_cast  # noqa: E402
from tests.support.speech_servers import ElevenLabsServer, OpenAISpeechServer  # noqa: E402

DRAMA = ROOT.parent / "shared" / "media" / "drama"
RESULTS = ROOT / "bench" / "results"
KEY = "sk-bench-not-a-secret"
GEORGE, SARAH = "JBFqnCBsd6RMkjVDRZzb", "EXAVITQu4vr4xnVydUG1"


def srt_texts(path: Path) -> list[str]:
    blocks = [b for b in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()) if b.strip()]
    return [" ".join(b.splitlines()[2:]).strip() for b in blocks]


def run(name: str, voice: Voice, cast: dict[str, dict[str, str]], episode, tmp: Path, server=None) -> dict:
    market = msgspec.structs.replace(get_market("en-US", load_markets()), tts=(voice.synthesizer.name,),
                                     voices={voice.synthesizer.name: voice.voice})
    options = make_cast(tmp / f"{name}-cast.json", cast)
    if server is not None:
        server.failures = [429, 500]
    start = time.perf_counter()
    dub = dub_episode(episode, market, voice, ArtifactStore(tmp / f"{name}-cache"), options)
    seconds = time.perf_counter() - start
    texts = {t.id: t.text for t in episode.translation.lines}
    wer, heard = back_wer(dub, texts)
    kept = {c["id"]: c["voices"].get(voice.synthesizer.name, "")
            for c in json.loads((tmp / f"{name}-cast.json").read_text(encoding="utf-8"))["characters"]}
    synth = voice.synthesizer
    return {"backend": name, "seconds": round(seconds, 1), "wer": wer, "lines": len(dub.value.lines),
            "requests": len(server.speech_requests()) if server else 0, "retries": getattr(synth, "retries", 0),
            "voices_made": len(getattr(server, "added", [])), "voices": {ln.id: ln.voice for ln in dub.value.lines},
            "cast_after": kept, "heard": heard}


def main() -> int:
    if not (DRAMA / "episode_B.mp4").is_file():
        print(f"skipped: {DRAMA} is absent (../shared/media ships with the development workspace)")
        return 0
    english = srt_texts(DRAMA / "reference.en.srt")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as raw:
        tmp = Path(raw)
        episode = load_episode(DRAMA / "episode_B.mp4", DRAMA / "truth.json", tmp, text_key="text_zh", english=english)
        speakers = sorted({ln.speaker for ln in episode.script.lines})
        rows.append(run("piper", Voice(PiperSynthesizer(), "en_US-joe-medium"),
                        {s: {"piper": "en_US-joe-medium"} for s in speakers}, episode, tmp))
        with OpenAISpeechServer(KEY) as server:
            synth = oa.OpenAISpeechSynthesizer(oa.config_from_env({oa.BASE_URL_VAR: server.url,
                                                                   oa.API_KEY_VARS[0]: KEY}))
            rows.append(run("openai-speech", Voice(synth, "onyx"), {
                "A": {"openai-speech": "onyx"}, "B": {"openai-speech": "echo"}, "C": {"openai-speech": "clone"}},
                episode, tmp, server))
        with ElevenLabsServer(KEY) as server:
            synth2 = el.ElevenLabsSynthesizer(el.config_from_env({el.BASE_URL_VAR: server.url,
                                                                  el.API_KEY_VARS[0]: KEY}))
            rows.append(run("elevenlabs", Voice(synth2, GEORGE), {
                "A": {"elevenlabs": GEORGE}, "B": {"elevenlabs": "clone"}, "C": {"elevenlabs": SARAH}},
                episode, tmp, server))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speech_services.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    out = ["# Speech services: episode B dubbed through each service backend", "",
           "`.venv/bin/python bench/bench_speech_services.py` (see its docstring). Local stand-in servers speaking",
           "with Piper's packaged voice (pitch-shifted per voice, formants kept); the first two speech requests",
           "of each service answered 429 then 500. Seconds: the voice stage (casting + dub), cold cache, this 2-core",
           "machine, shared with other jobs. WER: Whisper base back-transcription vs reference.en.srt, 8 lines.",
           "",
           "| backend | lines | seconds | WER | speech requests | retries | voices made | voices (A, B, C) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        by_speaker = {}
        for line in episode.script.lines:
            by_speaker.setdefault(line.speaker, r["voices"].get(line.id, ""))
        voices = ", ".join(by_speaker[s] for s in sorted(by_speaker))
        out.append(f"| {r['backend']} | {r['lines']} | {r['seconds']} | {r['wer']:.3f} | {r['requests']} | "
                   f"{r['retries']} | {r['voices_made']} | {voices} |")
    (RESULTS / "speech_services.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
