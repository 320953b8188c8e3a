"""Face tracking and the speaking-face link on synthetic detections and activity curves."""

from __future__ import annotations

from localize.core.artifacts import Line
from localize.stages.picture.faces import FaceTrack, FaceTracks, iou, link_tracks, suppress
from localize.stages.picture.mouth import (
    MOUTH_LEAD_MS,
    MouthActivity,
    MouthCurve,
    SpeechEnvelope,
    scale01,
    speaking_faces,
)
from localize.stages.picture.shots import Shots, shots_from_cuts


def _shots(*cuts: int, duration: int = 10_000) -> Shots:
    return Shots(video="v.mp4", duration_ms=duration, threshold=27.0, shots=shots_from_cuts(list(cuts), duration))


def test_shots_from_cuts_drops_cuts_too_close_together() -> None:
    shots = shots_from_cuts([3000, 3100, 9900], 10_000)
    assert [(s.start_ms, s.end_ms) for s in shots] == [(0, 3000), (3000, 10_000)]
    assert _shots().at(5000).index == 0 and _shots(4000).at(4000).index == 1


def test_iou_and_suppress_nested_boxes() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    # the same face found twice (a smaller box inside a bigger one) keeps the bigger; a second face stays
    assert suppress([(12, 12, 20, 20), (10, 10, 30, 30), (100, 10, 30, 30)]) == [(10, 10, 30, 30), (100, 10, 30, 30)]


def test_link_tracks_follows_two_faces_bridges_a_gap_and_drops_a_lone_detection() -> None:
    samples = []
    for k in range(10):
        t = k * 200
        boxes = [(100 + 4 * k, 100, 80, 80)]  # face A drifts right
        if k != 4:  # face B missed once
            boxes.append((400, 120 + 2 * k, 70, 70))
        if k == 6:
            boxes.append((700, 600, 40, 40))  # a one-off false positive
        samples.append((t, boxes))
    tracks = link_tracks(samples, _shots(), step_ms=200)
    assert [tr.id for tr in tracks] == ["F01", "F02"]
    a, b = tracks
    assert a.detections == 10 and b.detections == 9
    assert len(b.boxes) == 10  # the missed sample is filled in
    assert b.box_at(800) is not None and abs(b.box_at(800)[1] - 128) <= 2
    assert a.box_at(-1) is None and a.box_at(a.end_ms) is None


def test_tracks_never_cross_a_shot_cut() -> None:
    samples = [(k * 200, [(100, 100, 80, 80)]) for k in range(20)]
    tracks = link_tracks(samples, _shots(2000), step_ms=200)
    assert [(tr.shot, tr.start_ms) for tr in tracks] == [(0, 0), (1, 2000)]


def test_box_at_interpolates_between_samples() -> None:
    tr = FaceTrack(id="F01", shot=0, start_ms=0, step_ms=100, boxes=((0, 0, 10, 10), (10, 20, 10, 10)), detections=2)
    assert tr.box_at(50) == (5, 10, 10, 10)


def test_scale01_maps_the_10th_and_90th_percentiles() -> None:
    out = scale01([float(v) for v in range(101)])
    assert out[10] == 0.0 and out[90] == 1.0 and out[0] == 0.0 and out[100] == 1.0 and abs(out[50] - 0.5) < 1e-9


def _curve(track: str, talking: list[tuple[int, int]], duration: int = 10_000) -> MouthCurve:
    times = tuple(range(0, duration, 40))
    values = tuple(0.8 if any(a <= t < b for a, b in talking) else 0.1 for t in times)
    return MouthCurve(track=track, times_ms=times, values=values)


def _tracks(*ids: str, n: int = 250) -> FaceTracks:
    box = ((0, 0, 10, 10),) * n
    return FaceTracks(video="v", width=100, height=100, step_ms=40, detector="test", tracks=tuple(
        FaceTrack(id=i, shot=0, start_ms=0, step_ms=40, boxes=box, detections=n) for i in ids))


def test_each_speaker_is_linked_to_the_face_that_talks_in_their_lines() -> None:
    """Without a speech envelope (an artifact from before it existed): the speaker-level link."""
    lines = [Line(id="L1", start_ms=0, end_ms=2000, text="a", speaker="S1"),
             Line(id="L2", start_ms=3000, end_ms=5000, text="b", speaker="S2"),
             Line(id="L3", start_ms=6000, end_ms=8000, text="c", speaker="S1"),
             Line(id="L4", start_ms=8500, end_ms=9500, text="d", speaker="OFF")]  # an off-screen voice
    activity = MouthActivity(method="test", curves=(_curve("F01", [(3000, 5000)]),
                                                    _curve("F02", [(0, 2000), (6000, 8000)])))
    assert speaking_faces(lines, _tracks("F01", "F02"), activity) == {"L1": "F02", "L2": "F01", "L3": "F02", "L4": ""}


def _syllables(seed: int, duration: int = 10_000, step: int = 40) -> list[float]:
    """A mouth that talks all the time: a random opening every 200 ms (5 syllables a second)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    peaks = rng.uniform(0.2, 1.0, duration // 200 + 1)
    return [float(peaks[t // 200] * np.sin(np.pi * (t % 200) / 200)) for t in range(0, duration, step)]


def test_of_two_talking_faces_the_one_whose_mouth_follows_the_sound_speaks_each_line() -> None:
    """Two faces whose mouths move all the time (as in a two-face shot where both are talking or
    chewing): activity alone cannot tell who speaks; the speech envelope, read MOUTH_LEAD_MS after each
    frame, follows one mouth per line, and that face is linked. Lines are decided one by one, so the
    same speaker label on both faces' lines (a diarization error) does not matter."""
    times = tuple(range(0, 10_000, 40))
    a, b = _syllables(1), _syllables(2)
    # whose sound plays: B in 0-4 s, A in 4.5-7 s, B again in 7.5-10 s
    spans = [(0, 4000, b), (4500, 7000, a), (7500, 10_000, b)]
    env = [0.0] * 1000
    for k in range(1000):
        t = k * 10 - MOUTH_LEAD_MS  # the sound at t follows the lips at t - MOUTH_LEAD_MS
        for s0, s1, mouth in spans:
            if s0 <= t < s1:
                env[k] = mouth[t // 40]
    activity = MouthActivity(method="test", speech=SpeechEnvelope(step_ms=10, values=tuple(env)), curves=(
        MouthCurve(track="F01", times_ms=times, values=tuple(a)),
        MouthCurve(track="F02", times_ms=times, values=tuple(b))))
    lines = [Line(id="L1", start_ms=0, end_ms=3900, text="a", speaker="S1"),
             Line(id="L2", start_ms=4600, end_ms=6900, text="b", speaker="S1"),
             Line(id="L3", start_ms=7600, end_ms=9800, text="c", speaker="S2")]
    tracks = _tracks("F01", "F02")
    assert speaking_faces(lines, tracks, activity) == {"L1": "F02", "L2": "F01", "L3": "F02"}
    # both mouths following the sound equally well: no margin, no face linked
    same = MouthActivity(method="test", speech=activity.speech, curves=(
        MouthCurve(track="F01", times_ms=times, values=tuple(b)),
        MouthCurve(track="F02", times_ms=times, values=tuple(b))))
    assert set(speaking_faces(lines, tracks, same).values()) == {""}


def test_a_lone_face_is_not_linked_to_an_off_screen_voice() -> None:
    """One face on screen: it speaks its own speaker's lines; a line of another speaker during which
    its mouth moves a little (a smile, a breath: open on a quarter of the frames) but much less than
    in its own lines is an off-screen voice, and stays unlinked."""
    times = tuple(range(0, 10_000, 40))

    def level(t: int) -> float:
        if 0 <= t < 3000 or 6000 <= t < 8000:  # its own lines: open half the time
            return 0.9 if (t // 200) % 2 else 0.1
        if 3500 <= t < 5500:  # the off-screen voice: open on one frame in four
            return 0.5 if (t // 40) % 4 == 0 else 0.05
        return 0.05

    activity = MouthActivity(method="test", curves=(MouthCurve(track="F01", times_ms=times,
                                                               values=tuple(level(t) for t in times)),))
    lines = [Line(id="L1", start_ms=0, end_ms=3000, text="a", speaker="S1"),
             Line(id="L2", start_ms=3500, end_ms=5500, text="b", speaker="OFF"),
             Line(id="L3", start_ms=6000, end_ms=8000, text="c", speaker="S1")]
    tracks = _tracks("F01")
    assert speaking_faces(lines, tracks, activity) == {"L1": "F01", "L2": "", "L3": "F01"}
    # the same line by the face's own speaker: its mouth is active enough, it is linked
    mine = [Line(id=ln.id, start_ms=ln.start_ms, end_ms=ln.end_ms, text=ln.text, speaker="S1") for ln in lines]
    assert speaking_faces(mine, tracks, activity)["L2"] == "F01"
