"""Shots, faces, mouths and lip alignment on real video.

The sample's script (three lines; the first is an off-screen voice, the other two the man on camera)
is the one the ASR stage gives for samples/episode.mp4, written out here so this test runs no ASR;
the mouth openings come from the hand annotations in bench/data/mouth_openings.json, the checked speech
onsets from bench/data/talking_heads.json (the sample is a crop of talking_man_outdoors.mp4, same times).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from localize.core.artifacts import DubLine, DubTrack, Line
from localize.stages.picture.faces import track_faces
from localize.stages.picture.lipalign import align_track, speech_bounds
from localize.stages.picture.mouth import mouth_activity, speaking_faces
from localize.stages.picture.shots import detect_shots
from localize.stages.voice.tts.espeak import EspeakSynthesizer

from ..conftest import ROOT, SAMPLE, shared_media

pytestmark = pytest.mark.integration

LINES = (
    Line(id="L001", start_ms=0, end_ms=2600, text="recibo solidos o paquetes", speaker="SPEAKER_00"),
    Line(id="L002", start_ms=3320, end_ms=7780, text="Pues aquí en el colegio", speaker="SPEAKER_01"),
    Line(id="L003", start_ms=8380, end_ms=9820, text="pero más que todo", speaker="SPEAKER_01"),
)
OPENINGS = {ln["id"]: ln["mouth_open_ms"] for ln in
            json.loads((ROOT / "bench" / "data" / "mouth_openings.json").read_text())["lines"] if "mouth_open_ms" in ln}
ONSETS = {ln["id"]: ln["onset_ms"] for clip in json.loads((ROOT / "bench" / "data" / "talking_heads.json").read_text())[
    "clips"] if clip["name"] == "talking_man_outdoors" for ln in clip["lines"] if "onset_ms" in ln}


def levels_db(media: Path) -> np.ndarray:
    """The sound's 10 ms RMS level (dB from its loudest), unsmoothed: what the checked onsets are read on."""
    x = np.frombuffer(subprocess.run(["ffmpeg", "-v", "error", "-i", str(media), "-vn", "-ac", "1", "-ar", "16000",
                                      "-f", "s16le", "-"], capture_output=True, check=True).stdout, np.int16) / 32768
    n = len(x) // 160
    rms = np.sqrt(np.mean(np.square(x[: n * 160].reshape(n, 160)), axis=1))
    return np.asarray(20 * np.log10(rms / rms.max() + 1e-9))


@pytest.fixture(scope="module")
def sample_faces():
    tracks = track_faces(SAMPLE, detect_shots(SAMPLE, 10_000))
    return tracks, mouth_activity(SAMPLE, tracks)


def test_haar_follows_the_face_through_the_sample(sample_faces) -> None:
    tracks, _ = sample_faces
    assert len(tracks.tracks) == 1
    face = tracks.tracks[0]
    assert face.end_ms - face.start_ms >= 9000 and face.detections >= 40
    x, y, w, h = face.box_at(5000)
    assert 60 <= x + w / 2 <= 340 and 60 <= y + h / 2 <= 320 and 120 <= w <= 240  # the man's face, 404x720 frame


def test_haar_finds_the_face_in_the_uncropped_video() -> None:
    video = shared_media("video/talking_man_outdoors.mp4")
    tracks = track_faces(video, detect_shots(video, 10_000))
    assert len(tracks.tracks) == 1 and tracks.tracks[0].detections >= 40
    x, y, w, h = tracks.tracks[0].box_at(3000)
    assert 400 <= x + w / 2 <= 560  # the sample is its crop at x=278: the same face, shifted


def test_a_cut_between_two_real_videos_is_a_shot_boundary(tmp_path: Path) -> None:
    woman = shared_media("video/standing_woman_noaudio.mp4")
    joined = tmp_path / "joined.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-t", "4", "-i", str(SAMPLE), "-t", "4", "-i", str(woman),
                    "-filter_complex", "[0:v]scale=404:720,setsar=1,fps=25[a];[1:v]scale=404:720,setsar=1,fps=25[b];"
                    "[a][b]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                    str(joined)], check=True)
    shots = detect_shots(joined, 8000)
    assert len(shots.shots) == 2 and abs(shots.shots[1].start_ms - 4000) <= 80
    tracks = track_faces(joined, shots)
    assert {tr.shot for tr in tracks.tracks} == {0, 1}  # a face per shot, never one track across the cut


def test_mouth_activity_follows_who_speaks(sample_faces) -> None:
    tracks, activity = sample_faces
    curve = activity.curve(tracks.tracks[0].id)
    on_camera = [curve.mean(ln.start_ms, ln.end_ms) for ln in LINES[1:]]
    off_camera = curve.mean(LINES[0].start_ms, LINES[0].end_ms)
    assert min(on_camera) > off_camera + 0.1
    assert speaking_faces(LINES, tracks, activity) == {"L001": "", "L002": "F01", "L003": "F01"}


def test_alignment_moves_real_dub_onsets_toward_the_checked_speech_onsets(sample_faces, tmp_path: Path) -> None:
    """Placed 250 ms late, the dub's onsets go to the man's speech onsets: L003's where his lips part, L002's
    where his voice rises just after they part (110 ms later: the dub's sound replaces his)."""
    tracks, activity = sample_faces
    dub_dir = tmp_path / "dub"
    dub_dir.mkdir()
    tts = EspeakSynthesizer()
    dubbed = []
    for ln, text, late in ((LINES[1], "Well, here at school we have five doors", 250),
                           (LINES[2], "but most of all", 250)):
        tts.synthesize(text, "en-us", dub_dir / f"{ln.id}.wav")
        samples, rate = sf.read(dub_dir / f"{ln.id}.wav", dtype="float32")
        length = round(len(samples) * 1000 / rate)
        start = ln.start_ms + late  # placed late, as a misplaced slot would put it
        dubbed.append(DubLine(id=ln.id, slot_start_ms=ln.start_ms, slot_end_ms=ln.end_ms, dub_start_ms=start,
                              dub_end_ms=start + length, natural_ms=length, speed=1.0, overflow_ms=0,
                              clip=f"{ln.id}.wav"))
    track = DubTrack(language="en", backend="espeak", voice="en-us", sample_rate=rate, max_speed=1.25,
                     lines=tuple(dubbed))
    faces = speaking_faces(LINES, tracks, activity)
    aligned, report = align_track(track, dub_dir, LINES, faces, activity, tmp_path / "aligned", duration_ms=10_000)

    def onset(t: DubTrack, directory: Path, line_id: str) -> int:
        d = next(x for x in t.lines if x.id == line_id)
        samples, r = sf.read(directory / d.clip, dtype="float32")
        return d.dub_start_ms + speech_bounds(samples, r)[0]

    for line_id, opening in OPENINGS.items():
        before = abs(onset(track, dub_dir, line_id) - ONSETS[line_id])
        after = abs(onset(aligned, tmp_path / "aligned", line_id) - ONSETS[line_id])
        assert after < before and after <= 40, (line_id, before, after)
        assert onset(aligned, tmp_path / "aligned", line_id) >= opening - 40  # not before the lips part (a frame)
    by_id = {d.id: d for d in aligned.lines}
    assert all(by_id[i].lip_face == "F01" and abs(by_id[i].lip_offset_after_ms) < abs(by_id[i].lip_offset_before_ms)
               for i in OPENINGS)
    assert by_id["L002"].dub_end_ms + 80 <= by_id["L003"].dub_start_ms  # the slot rules still hold
    assert {ln.id for ln in report.lines} == set(OPENINGS)


def test_a_lone_face_is_linked_to_its_own_lines_and_not_to_an_off_screen_voice(sample_faces) -> None:
    """One face: linked where its mouth is active; the off-screen speaker's line (the face quieter in
    it than in its own speaker's lines) stays unlinked."""
    from localize.stages.picture.mouth import OPEN_LEVEL

    tracks, activity = sample_faces
    assert activity.speech is not None and len(activity.speech.values) >= 900  # 10 s at 10 ms
    assert speaking_faces(LINES, tracks, activity) == {"L001": "", "L002": "F01", "L003": "F01"}
    # one speaker only (no one to compare with): every line with an active mouth is the face's
    alone = [Line(id=ln.id, start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, speaker="S") for ln in LINES]
    _, values = activity.curves[0].window(LINES[0].start_ms, LINES[0].end_ms)
    assert sum(v >= OPEN_LEVEL for v in values) > 0.2 * len(values)
    assert speaking_faces(alone, tracks, activity)["L002"] == "F01"


def test_of_two_faces_the_one_whose_mouth_moves_with_the_sound_speaks(tmp_path: Path) -> None:
    """Two real faces side by side in one shot: the man of talking_man_outdoors.mp4 with his own
    voice, and the woman of standing_woman_noaudio.mp4 (no sound of hers). His lines go to his face."""
    man = shared_media("video/talking_man_outdoors.mp4")
    woman = shared_media("video/standing_woman_noaudio.mp4")
    both = tmp_path / "two_faces.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-t", "10", "-i", str(man), "-t", "10", "-i", str(woman),
                    "-filter_complex", "[0:v]scale=-2:480,setsar=1,fps=25[a];[1:v]scale=-2:480,setsar=1,fps=25[b];"
                    "[b][a]hstack=2[v]", "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", str(both)], check=True)
    tracks = track_faces(both, detect_shots(both, 10_000))
    activity = mouth_activity(both, tracks)
    lines = [Line(id=ln.id, start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, speaker=ln.speaker)
             for ln in LINES[1:]]
    linked = speaking_faces(lines, tracks, activity)
    on = {tr.id: box for tr, box in tracks.at(5000)}
    assert len(on) >= 2  # both faces are tracked through the lines
    for line_id, face in linked.items():  # both lines go to the man, on the right (synchrony over lags,
        assert face, (line_id, linked)  # syllable-rate movement; the plain correlation gave L003 to the woman)
        x, _, w, _ = on[face]
        assert x + w / 2 > tracks.width / 2, line_id


def test_a_line_without_a_clear_mouth_opening_is_aligned_on_its_speech_onset(sample_faces, tmp_path: Path) -> None:
    """The man's long line cut in two, as a recognizer may cut it: the second part starts mid-speech at
    5800 ms, where his mouth is already moving (no closure and clear opening near its start). His face
    still speaks it, so the dub's onset goes to the line's own start (its speech onset); without that
    fallback the line would stay where the dubbing stage put it, 250 ms late."""
    from localize.stages.picture.lipalign import mouth_events

    tracks, activity = sample_faces
    lines = [Line(id="L002", start_ms=3320, end_ms=5800, text="Pues aquí", speaker="SPEAKER_01"),
             Line(id="L003", start_ms=5800, end_ms=7780, text="en el colegio", speaker="SPEAKER_01")]
    faces = speaking_faces(lines, tracks, activity)
    assert faces["L003"] == "F01"
    assert mouth_events(activity.curve("F01"), 5800, 7780) is None  # no clear opening: the case under test
    dub_dir = tmp_path / "dub"
    dub_dir.mkdir()
    EspeakSynthesizer().synthesize("in the school", "en-us", dub_dir / "L003.wav")
    samples, rate = sf.read(dub_dir / "L003.wav", dtype="float32")
    length, onset = round(len(samples) * 1000 / rate), speech_bounds(samples, rate)[0]
    start = 5800 - onset + 250  # its speech 250 ms late
    track = DubTrack(language="en", backend="espeak", voice="en-us", sample_rate=rate, max_speed=1.25, lines=(
        DubLine(id="L003", slot_start_ms=5800, slot_end_ms=7780, dub_start_ms=start, dub_end_ms=start + length,
                natural_ms=length, speed=1.0, overflow_ms=0, clip="L003.wav"),))
    aligned, report = align_track(track, dub_dir, lines[1:], faces, activity, tmp_path / "out", duration_ms=10_000)
    moved = aligned.lines[0]
    after = moved.dub_start_ms + speech_bounds(*sf.read(tmp_path / "out" / moved.clip, dtype="float32"))[0]
    assert abs(after - 5800) <= 20, after
    assert moved.lip_face == "F01" and report.lines[0].evidence == "speech" and moved.speed == 1.0
    assert abs(moved.lip_offset_before_ms - 250) <= 20 and abs(moved.lip_offset_after_ms) <= 20


def _dub_one(tmp_path: Path, line: Line, text: str, late_ms: int) -> tuple[DubTrack, Path]:
    dub_dir = tmp_path / "dub"
    dub_dir.mkdir(exist_ok=True)
    EspeakSynthesizer().synthesize(text, "en-us", dub_dir / f"{line.id}.wav")
    samples, rate = sf.read(dub_dir / f"{line.id}.wav", dtype="float32")
    length, onset = round(len(samples) * 1000 / rate), speech_bounds(samples, rate)[0]
    start = line.start_ms - onset + late_ms
    dub = DubLine(id=line.id, slot_start_ms=line.start_ms, slot_end_ms=line.end_ms, dub_start_ms=start,
                  dub_end_ms=start + length, natural_ms=length, speed=1.0, overflow_ms=0, clip=f"{line.id}.wav")
    return DubTrack(language="en", backend="espeak", voice="en-us", sample_rate=rate, max_speed=1.25,
                    lines=(dub,)), dub_dir


def _aligned_onset(aligned: DubTrack, out: Path) -> int:
    d = aligned.lines[0]
    return d.dub_start_ms + speech_bounds(*sf.read(out / d.clip, dtype="float32"))[0]


def test_a_line_cut_mid_speech_aligns_on_its_start_not_on_a_later_syllable(sample_faces, tmp_path: Path) -> None:
    """The man's long line cut at a word boundary (4440 ms, where his sound rises again after a 60 ms stop
    closure), the second part following the first within 20 ms, as a recognizer cuts a sentence. Near the cut
    his mouth closes and opens again at 4633 ms: a later syllable's opening, 190 ms after his sound. The line
    follows the one before closely, so that opening is not its own: the dub's onset goes to the line's start
    (without the rule it went to 4633)."""
    from localize.stages.picture.lipalign import LATE_OPEN_MS, mouth_events

    tracks, activity = sample_faces
    level = levels_db(SAMPLE)
    assert level[4440 // 10] >= level[4400 // 10] + 10  # his sound rises at the cut: the checked onset
    lines = [Line(id="L002", start_ms=3320, end_ms=4420, text="Pues aquí", speaker="SPEAKER_01"),
             Line(id="L003", start_ms=4440, end_ms=7780, text="en el colegio", speaker="SPEAKER_01")]
    faces = speaking_faces(lines, tracks, activity)
    assert faces["L003"] == "F01"
    events = mouth_events(activity.curve("F01"), 4440, 7780)
    assert events is not None and events.open_ms - 4440 > LATE_OPEN_MS  # the case under test
    track, dub_dir = _dub_one(tmp_path, lines[1], "in the school", 250)
    aligned, report = align_track(track, dub_dir, lines, faces, activity, tmp_path / "out", duration_ms=10_000)
    assert abs(_aligned_onset(aligned, tmp_path / "out") - 4440) <= 20
    assert report.lines[0].evidence == "speech"


def test_the_dub_starts_where_the_voice_rises_after_the_lips_part(sample_faces, tmp_path: Path) -> None:
    """L002 ('Pues'): his lips part at 3550 ms (hand annotation) and his voice rises 110 ms later. The dub
    goes to the voice's rise (read on the smoothed envelope), not to the opening (without the rule: 3567)."""
    tracks, activity = sample_faces
    level = levels_db(SAMPLE)
    quiet = float(np.median(level[3500 // 10:3600 // 10]))
    voice = 10 * next(i for i in range(OPENINGS["L002"] // 10, 4000 // 10) if level[i] >= quiet + 10)
    assert 3620 <= voice <= 3700
    faces = speaking_faces(LINES, tracks, activity)
    track, dub_dir = _dub_one(tmp_path, LINES[1], "Well, here at school", 0)
    aligned, report = align_track(track, dub_dir, LINES, faces, activity, tmp_path / "out", duration_ms=10_000)
    after = _aligned_onset(aligned, tmp_path / "out")
    assert abs(after - voice) <= 40 and after >= OPENINGS["L002"], (after, voice)
    assert report.lines[0].evidence == "sound"


def test_after_a_pause_a_line_without_an_opening_aligns_on_its_sound_not_an_early_start(
        sample_faces, tmp_path: Path) -> None:
    """A recognizer's start 200 ms early, stretched over the silence before the speech (Whisper's were 120-240
    ms early on the talking-head set), on a face with no clear opening near it (the sample's man at 5800 ms).
    The sound is a real recording (jfk.flac, its speech onset placed 200 ms after the line's start): the dub
    goes to where that sound rises, not to the early start. The same line right after another (within
    300 ms) keeps its start: there the start is where the sound changes."""
    from localize.stages.picture.lipalign import line_events, mouth_events
    from localize.stages.picture.mouth import speech_envelope

    jfk = shared_media("speech/en/jfk.flac")
    _, activity = sample_faces
    curve = activity.curve("F01")
    assert curve is not None and mouth_events(curve, 5800, 7780) is None  # no clear opening: the case under test
    raw = levels_db(jfk)
    first = 10 * int(np.argmax(raw >= raw[:200 // 10].max() + 10))  # jfk's speech onset (about 330 ms)
    padded = tmp_path / "sound.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(jfk), "-af", f"adelay={6000 - first}:all=1", "-ac", "1",
                    str(padded)],
                   check=True)
    level = levels_db(padded)
    onset = 10 * int(np.argmax(level >= level[5700 // 10:5990 // 10].max() + 10))
    assert abs(onset - 6000) <= 20
    line = Line(id="L005", start_ms=5800, end_ms=7780, text="and so my fellow Americans", speaker="S")
    speech = speech_envelope(padded)
    after_pause = line_events(curve, line, 5400, speech)
    assert after_pause.evidence == "speech" and abs(after_pause.open_ms - onset) <= 30, after_pause
    assert line_events(curve, line, 5700, speech).open_ms == 5800
