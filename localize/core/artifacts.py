"""The typed artifacts every stage reads and writes.

All are frozen, slotted, keyword-only dataclasses with integer milliseconds
and tuples, saved as JSON with sorted keys and a schema version
(:mod:`localize.core.jsonio`), so a reviewer can open any of them in an editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from localize.core.options import RunOptions

SCHEMA_VERSION = 1



@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo:
    """What ffprobe says about a source file."""

    path: str
    duration_ms: int
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio_rate: int = 0
    audio_channels: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    probability: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One timed, speaker-labelled line of the source script."""

    id: str
    start_ms: int
    end_ms: int
    text: str
    speaker: str = "SPEAKER_00"
    words: tuple[Word, ...] = ()
    origin: str = "asr"  # asr | ocr | fused | imported
    confidence: float = 1.0

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """The source episode's script: what is said, when, and by whom."""

    language: str
    duration_ms: int
    lines: tuple[Line, ...]
    backend: str
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetLine:
    """One line in the market language, with the route that produced it."""

    id: str
    source_text: str
    text: str
    route: tuple[str, ...]  # e.g. ("apertium:spa-eng", "bergamot:en-pt")
    flags: tuple[str, ...] = ()  # over-budget, idiom, glossary:<term>, fallback:<backend>, ...
    budget_chars: int = 0  # the most characters the line's slot holds at the language's speaking rate
    literal: str = ""  # for a line the adapter marked idiomatic: the source word for word


@dataclass(frozen=True, slots=True, kw_only=True)
class Translation:
    source_language: str
    target_language: str
    lines: tuple[TargetLine, ...]
    # lines within their length budget as first translated, and after shorter rewrites
    within_budget_first: int = 0
    within_budget_final: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DubLine:
    """Where one dubbed clip sits against the slot its original line takes."""

    id: str
    slot_start_ms: int
    slot_end_ms: int
    dub_start_ms: int
    dub_end_ms: int
    natural_ms: int  # the clip's length before any time-stretch
    speed: float  # 1.0 = as synthesized; 1.25 = 25% faster
    overflow_ms: int  # how far the clip runs past its slot (and any silence it borrowed)
    clip: str  # file name inside the dub artifact
    decision: str = "fits"  # fits | stretched | borrowed | over-cap | overflow (localize.stages.voice.tts.fit)
    borrowed_ms: int = 0  # silence taken from around the slot
    gain_db: float = 0.0  # delivery: the original line's loudness relative to the episode
    voice: str = ""  # the character's voice
    pitch: float = 1.0  # frequency ratio applied toward the actor's pitch
    pitch_range: int = 100  # delivery: intonation range in % of the voice's own, from the original line
    lip_face: str = ""  # lip alignment: the speaking face track; "" when not aligned (localize.stages.picture.lipalign)
    lip_offset_before_ms: int = 0  # dub speech onset minus the face's mouth opening, before alignment
    lip_offset_after_ms: int = 0  # ... and after


@dataclass(frozen=True, slots=True, kw_only=True)
class DubTrack:
    language: str
    backend: str
    voice: str
    sample_rate: int
    max_speed: float
    lines: tuple[DubLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Loudness:
    target_lufs: float
    target_true_peak_dbtp: float
    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportLine:
    id: str
    speaker: str
    source_text: str
    target_text: str
    slot_start_ms: int
    slot_end_ms: int
    dub_start_ms: int
    dub_end_ms: int
    speed: float
    overflow_ms: int
    route: tuple[str, ...]
    flags: tuple[str, ...] = ()
    budget_chars: int = 0
    literal: str = ""
    decision: str = ""  # how the dub was fitted: fits | stretched | borrowed | over-cap | overflow
    borrowed_ms: int = 0
    gain_db: float = 0.0
    voice: str = ""
    pitch: float = 1.0
    backcheck_cer: float = -1.0  # back-transcription of the dub clip vs its target text; -1: not dubbed
    pitch_range: int = 100  # the dub's intonation range in % of its voice's own, carried from the original
    reading_cps: float = 0.0  # subtitle characters per second of the time the line is on screen
    subtitle_cues: int = 0  # the subtitle cues the line was split into (rows and reading speed); 0: not known
    override: str = ""  # "" or "edited"/"revoiced": a reviewer's override of this line was applied
    lip_face: str = ""  # the speaking face track the dub was lip-aligned to; "" when not
    lip_offset_before_ms: int = 0  # dub speech onset minus mouth opening, before lip alignment
    lip_offset_after_ms: int = 0  # ... and after


@dataclass(frozen=True, slots=True, kw_only=True)
class LineOverride:
    """A reviewer's version of one line, pinned over the machine output while the source line is unchanged."""

    id: str  # the script line id
    source_text: str  # the source line's text when the override was made
    target_text: str
    voice: str = ""  # "" keeps the character's cast voice; else this line's TTS voice (re-voice)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceSwapNote:
    """A face swapped in a market's picture: whose face, under which consent record, and how it measured."""

    character: str  # the series cast's character whose face was replaced
    subject: str  # whose face it now is: the person who consented (the record's `subject`)
    granted_by: str
    granted: str  # ISO date of the consent
    purpose: str  # the record's scope.purpose
    consent: str  # the consent record copied beside the outputs, relative to the market folder
    consent_sha256: str
    face_sha256: str  # the target face image
    backend: str  # "classic" or "insightface"
    # dlib face-embedding distance (under 0.6: the same person) over sampled frames; -1 when not measured.
    target_distance_before: float = -1.0  # original picture vs the target face
    target_distance_after: float = -1.0  # swapped picture vs the target face
    original_distance_after: float = -1.0  # swapped picture vs the original picture
    measured_frames: int = 0
    strip: str = ""  # frame strip PNG (original | swapped), relative to the market folder


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceConsentNote:
    """A character's voice cloned in a market's dub: whose voice, under which consent record, from which clip."""

    character: str  # the speaker id (or cast character) whose voice was cloned
    subject: str  # whose voice it is: the person who consented (the record's `subject`)
    granted_by: str
    granted: str  # ISO date of the consent
    purpose: str  # the record's scope.purpose
    consent: str  # the consent record copied beside the outputs, relative to the market folder
    consent_sha256: str
    clip: str  # the user's reference clip; "": the character's own speech in the source
    clip_sha256: str  # the clip's sha256 when the record names one
    backend: str  # the cloning TTS backend


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    episode: str
    market: str
    language: str
    source_language: str
    duration_ms: int
    dubbed: bool
    tts: str
    ai_label: str
    lines: tuple[ReportLine, ...]
    loudness: Loudness
    within_budget_first: int = 0  # lines within their length budget as first translated
    within_budget_final: int = 0  # ... and after shorter rewrites
    background: str = ""  # what the dub is mixed over: "separated:<backend>" or "original"
    face_swap: tuple[FaceSwapNote, ...] = ()  # faces swapped in this market's picture, each under a consent record
    voice_consent: tuple[VoiceConsentNote, ...] = ()  # voices cloned in this market's dub, each under a consent record
    licences: tuple[str, ...] = ()  # "model: licence" of each model with weights the market's run used


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketResult:
    """What `localize_episode` wrote for one market."""

    market: str
    directory: str
    video: str
    subtitles: tuple[str, ...]  # srt, vtt, ass, ttml
    script: str
    report_json: str
    report_html: str
    report: Report


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeResult:
    episode: str
    source: str
    transcript: str
    markets: tuple[MarketResult, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalizedLine:
    id: str
    speaker: str
    start_ms: int
    end_ms: int
    source_text: str
    target_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalizedScript:
    """A market's script.json: the timed source and target lines side by side."""

    episode: str
    market: str
    source_language: str
    target_language: str
    lines: tuple[LocalizedLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrCue:
    """Burned-in subtitle text read from the picture, merged across the frames it stays on."""

    start_ms: int
    end_ms: int
    text: str
    box: tuple[int, int, int, int]  # x, y, width, height in source pixels
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrTrack:
    cues: tuple[OcrCue, ...]
    band: tuple[int, int] | None  # top and bottom row of the subtitle band; None: no band found
    frame_step_ms: int
    frames_read: int
    backend: str
    model: str


# A voice's pitch class from its median F0 (localize.stages.script.speakers.pitch): "" when unknown.
PitchClass = Literal["low", "mid", "high", ""]


@dataclass(frozen=True, slots=True, kw_only=True)
class Character:
    """One character of a series, kept across its episodes."""

    id: str  # stable: "C01", "C02", ...
    name: str  # editable by the user; defaults to the id
    embedding: tuple[float, ...]  # mean speaker embedding (resemblyzer, 256-d, L2-normalised)
    voices: dict[str, str]  # TTS backend -> chosen voice
    episodes: tuple[str, ...]
    lines: int  # how many lines the character has spoken across the series
    reference: str = ""  # a user's recording a cloning TTS backend speaks like, over the automatic choice
    # TTS backend -> the pitch ratio its voice was shifted by for this character (measured once per voice).
    # Cast files from before this field kept it as a "<backend>@pitch" string in `voices`; CastRegistry.load
    # moves those here.
    pitch: dict[str, float] = field(default_factory=dict)
    pitch_class: PitchClass = ""  # from the median F0 of the character's speech, for voice casting


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeClusters:
    """One episode's contribution to its series cast: its speaker clusters, before they are characters."""

    episode: str
    centroids: tuple[tuple[float, ...], ...]  # per cluster: its mean embedding (L2-normalised)
    counts: tuple[int, ...]  # per cluster: how many lines it holds
    pitch_classes: tuple[PitchClass, ...] = ()  # per cluster (empty from older episodes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cast:
    series: str
    characters: tuple[Character, ...]
    # episode -> the character id of each of its speaker clusters, as merged (see speakers.cast.merge_cast);
    # an episode recorded here is not matched or counted again.
    episodes: dict[str, tuple[str, ...]] = field(default_factory=dict)


RUN_FILE = "run.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """``run.json`` beside a published market: what produced the folder (absolute paths), so a reviewer's
    edit can re-run it (``localize.relocalize``)."""

    source: str
    out: str
    options: RunOptions
