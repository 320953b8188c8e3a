"""Word times from the audio: Whisper's word boundaries refined with voice activity.

Whisper times words by attention over 20 ms frames and has no notion of silence: the word before or
after a pause is stretched over it (JFK's "ask not ... what": Whisper base gives "what" 4.24-5.52 s
while the voice says it from 5.44 s), and the first word of a segment starts where the decoder's
window did, often half a second before the voice. Silero VAD (shipped inside faster-whisper's wheel)
says where the voice is, to about 30 ms. The rules, applied to each word in order:

1. **No word spans a pause.** The speech regions are the VAD's, with pauses shorter than
   ``min_pause_ms`` (~200 ms) closed. A word whose span touches several regions keeps one: the last one
   it overlaps by at least ``min_overlap_ms`` (Whisper stretches a word backwards over the pause before
   it far more often than forwards), else the one it overlaps most. The word is then clipped to that
   region, so its start and end lie in speech.
2. **Words reach the speech edges.** The first word heard in a region starts at the region's onset,
   and the last one ends at its offset, when the edge is within ``snap_ms`` of the word (Whisper
   starts and ends words late or early by a frame or a few; the VAD edge is the audio's).
3. A word that overlaps no region keeps Whisper's times (the VAD can miss quiet speech).

Lines are then cut by :func:`localize.stages.script.asr.lines.cut_lines`: with the words clipped to
the speech, a real pause shows as a gap between two words, and a gap of ``LineRules.pause_ms`` cuts the
line even where Whisper had stretched a word over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from localize.stages.script.asr import RawWord

SAMPLE_RATE = 16000


@dataclass(frozen=True, slots=True, kw_only=True)
class RefineRules:
    threshold: float = 0.5  # Silero speech probability
    min_pause_ms: int = 200  # shorter non-speech inside speech is not a pause
    # Silero's frames are 32 ms and it calls speech a frame or so late: onsets are moved this much earlier.
    onset_pad_ms: int = 40
    min_overlap_ms: int = 60  # a word keeps the last region it overlaps by this much
    snap_ms: int = 500  # a region's first/last word is moved to its edge within this distance


Region = tuple[int, int]


def speech_regions(audio: Path, rules: RefineRules = RefineRules()) -> list[Region]:
    """Speech (start_ms, end_ms) in a 16 kHz mono file, by Silero VAD, pauses under min_pause_ms closed."""
    from faster_whisper import decode_audio
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    samples = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    found = get_speech_timestamps(samples, VadOptions(threshold=rules.threshold, min_silence_duration_ms=
                                                      rules.min_pause_ms, speech_pad_ms=0))
    regions: list[Region] = []
    for ts in found:
        start = max(0, ts["start"] * 1000 // SAMPLE_RATE - rules.onset_pad_ms)
        end = ts["end"] * 1000 // SAMPLE_RATE
        if regions and start - regions[-1][1] < rules.min_pause_ms:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    return regions


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _home(word: RawWord, regions: Sequence[Region], rules: RefineRules) -> int | None:
    """Index of the region the word is said in, or None when it overlaps no speech."""
    touched = [(i, _overlap(word.start_ms, word.end_ms, s, e)) for i, (s, e) in enumerate(regions)]
    touched = [(i, ov) for i, ov in touched if ov > 0]
    if not touched:
        return None
    enough = [i for i, ov in touched if ov >= rules.min_overlap_ms]
    return enough[-1] if enough else max(touched, key=lambda t: t[1])[0]


def refine_words(segments: Sequence[Sequence[RawWord]], regions: Sequence[Region],
                 rules: RefineRules = RefineRules()) -> tuple[tuple[RawWord, ...], ...]:
    """The segments' words with times moved onto the speech regions (rules in the module docstring)."""
    if not regions:
        return tuple(tuple(seg) for seg in segments)
    flat = [(si, w) for si, seg in enumerate(segments) for w in seg]
    homes = [_home(w, regions, rules) for _, w in flat]
    words = []
    for (_si, w), home in zip(flat, homes, strict=True):
        if home is None:
            words.append(w)
            continue
        s, e = regions[home]
        start, end = max(w.start_ms, s), min(w.end_ms, e)
        if end <= start:  # inside the region by the overlap test; guard against zero length
            end = start + 1
        words.append(replace(w, start_ms=start, end_ms=end))
    # Rule 2: the first and last word said in each region reach its edges.
    for k, home in enumerate(homes):
        if home is None:
            continue
        s, e = regions[home]
        w = words[k]
        if (k == 0 or homes[k - 1] != home) and w.start_ms - s <= rules.snap_ms:
            w = replace(w, start_ms=s)
        if (k == len(homes) - 1 or homes[k + 1] != home) and e - w.end_ms <= rules.snap_ms:
            w = replace(w, end_ms=e)
        words[k] = w
    # Keep the words in order and apart: a word never starts before the previous one ends.
    for k in range(1, len(words)):
        prev, w = words[k - 1], words[k]
        if w.start_ms < prev.end_ms < w.end_ms:
            words[k] = replace(w, start_ms=prev.end_ms)
    out: list[list[RawWord]] = [[] for _ in segments]
    for (si, _), w in zip(flat, words, strict=True):
        out[si].append(w)
    return tuple(tuple(seg) for seg in out)


def refine(audio: Path, segments: Sequence[Sequence[RawWord]],
           rules: RefineRules = RefineRules()) -> tuple[tuple[RawWord, ...], ...]:
    """`refine_words` on the speech regions of `audio` (a 16 kHz mono file)."""
    return refine_words(segments, speech_regions(audio, rules), rules)


__all__ = ["RefineRules", "refine", "refine_words", "speech_regions"]
