"""Outputs never half-written, paths that never escape, one-line file-system errors (issue 20, part B), on the
real sample episode through the real `localize` command; and the fault campaign's kill part: SIGKILL at seeded
random points of `localize run`, each time checking the market folder is absent, old-complete or new-complete.

The English translation is a human one (--translation), so the runs need no LLM and stay short."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import localize
from localize.core.artifacts import LineOverride
from tests.conftest import ROOT, ffprobe

pytestmark = pytest.mark.integration

EPISODE = ROOT / "samples" / "episode_zh.mp4"
MARKET = "en-US"
FILES = {"video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "subtitles.ttml", "script.json", "report.json",
         "report.html", "run.json"}
UPSTREAM = ("audio", "asr", "ocr", "script", "speakers", "separate")
OLD = b"\n#old-folder-marker\n"  # appended to every file of a planted "old" folder
ENGLISH = """1
00:00:01,500 --> 00:00:05,920
Since late June, when Hohhot first lifted its purchase limits,

2
00:00:06,820 --> 00:00:10,000
first- and second-tier cities have been adjusting too,

3
00:00:10,500 --> 00:00:13,740
with sales in some almost frozen.

4
00:00:14,940 --> 00:00:19,940
And the purchase limits, the biggest brake on home sales,

5
00:00:20,440 --> 00:00:23,230
have become a thorn in local governments' side.
"""


def _args(episode: Path, out: Path, cache: Path, srt: Path) -> list[str]:
    return [sys.executable, "-m", "localize", "run", str(episode), "-m", MARKET, "--translation",
            f"{MARKET}={srt}", "-o", str(out), "--cache-dir", str(cache)]


def _cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localize", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Warning" not in ln and "import " not in ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def srt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("translation") / "episode_zh.en.srt"
    path.write_text(ENGLISH, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, srt: Path) -> Path:
    """An uninterrupted run: its own cache and output folder."""
    base = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(_args(EPISODE, base / "out", base / "cache", srt), capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return base


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- defect 5: a name that leaves --out -------------------------------------------------------------------------


def test_an_episode_named_dotdot_writes_nothing_outside_out(tmp_path: Path, srt: Path) -> None:
    """Issue 20 #5: `...mp4` (stem '..') wrote transcript.json and the market folder outside --out."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    shutil.copyfile(EPISODE, work / "...mp4")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = subprocess.run(_args(work / "...mp4", work / "out", tmp_path / "cache", srt), capture_output=True,
                          text=True, timeout=900)
    _one_line_error(proc, "...mp4", "'..'", "not a usable folder name")
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "cache" not in p.parts)
    assert after == before  # no transcript.json in a/, no market folder beside out/


# -- defect 8: --out on a read-only mount or naming a file ------------------------------------------------------


def test_out_naming_a_file_is_one_line_and_exit_2_before_any_work(tmp_path: Path, srt: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    started = time.monotonic()
    proc = subprocess.run(_args(EPISODE, tmp_path / "out", tmp_path / "cache", srt), capture_output=True,
                          text=True, timeout=900)
    _one_line_error(proc, "out", "is a file, not a folder")
    assert not (tmp_path / "cache").exists(), "heavy work started before the check"
    assert time.monotonic() - started < 300  # generous: the check comes before any decoding


def test_out_on_a_read_only_mount_is_one_line_and_exit_2(tmp_path: Path, srt: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: cannot make a read-only mount")
    ro = tmp_path / "ro"
    ro.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {ro}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here to mount a read-only folder: {probe.stderr.decode()[-200:]}")
    inner = " ".join(f"'{a}'" for a in _args(EPISODE, ro / "out", tmp_path / "cache", srt))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {ro} && exec {inner}"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    _one_line_error(proc, "out", "Read-only file system")
    assert not (tmp_path / "cache").exists(), "heavy work started before the check"


# -- defect 13: a translation for a market that is not in the run ---------------------------------------------


def test_a_translation_for_a_market_not_in_the_run_is_refused(tmp_path: Path, srt: Path) -> None:
    """Issue 20 #13: `--translation xx-YY=file.srt` for a market not in the run was silently ignored."""
    proc = _cli("run", EPISODE, "-m", MARKET, "--translation", f"pt-BR={srt}", "-o", tmp_path / "out",
                "--cache-dir", tmp_path / "cache")
    _one_line_error(proc, "--translation pt-BR=", "not in this run", MARKET)
    assert not (tmp_path / "out").exists()


# -- defect 4: re-rendering a copied folder ---------------------------------------------------------------------


def test_relocalize_of_a_copied_folder_publishes_to_the_copy_not_the_original(reference: Path,
                                                                               tmp_path: Path) -> None:
    """Issue 20 #4: relocalize published to the `out` recorded in run.json, overwriting the original; the
    copy's edit stayed pending for ever."""
    original = reference / "out" / "episode_zh" / MARKET
    copy = tmp_path / "review-copy" / "episode_zh" / MARKET
    shutil.copytree(original, copy)
    before = {p.name: _sha(p) for p in original.iterdir() if p.is_file()}
    line = json.loads((copy / "script.json").read_text(encoding="utf-8"))["lines"][0]
    edit = "Since June, Hohhot has led the way in lifting purchase limits."
    result = localize.relocalize(copy, [LineOverride(id=line["id"], source_text=line["source_text"],
                                                     target_text=edit)])
    assert Path(result.directory) == copy.resolve()
    assert {p.name: _sha(p) for p in original.iterdir() if p.is_file()} == before  # the original untouched
    served = json.loads((copy / "report.json").read_text(encoding="utf-8"))
    assert next(ln for ln in served["lines"] if ln["id"] == line["id"])["target_text"] == edit  # resolved
    assert json.loads((copy / "script.json").read_text(encoding="utf-8"))["lines"][0]["target_text"] == edit
    assert json.loads((copy / "run.json").read_text(encoding="utf-8"))["out"] == str(copy.parent.parent.resolve())
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]


# -- defect 6 and the kill campaign ---------------------------------------------------------------------------


def _plant_old(folder: Path) -> None:
    """Mark every file of the complete folder at `folder` as the old one."""
    for p in folder.iterdir():
        with open(p, "ab") as fh:
            fh.write(OLD)


def _state(folder: Path) -> str:
    """'absent', 'old' (every file marked) or 'new' (none marked, all readable); anything else fails."""
    if not folder.exists():
        return "absent"
    names = {p.name for p in folder.iterdir()}
    assert names == FILES, f"incomplete market folder: {sorted(names)}"
    marked = {p.name for p in folder.iterdir() if p.read_bytes().endswith(OLD)}
    if marked == FILES:
        return "old"
    assert not marked, f"old and new files mixed: old {sorted(marked)}, new {sorted(FILES - marked)}"
    for name in ("script.json", "report.json", "run.json"):
        json.loads((folder / name).read_text(encoding="utf-8"))
    streams = {s["codec_type"] for s in ffprobe(folder / "video.mp4")["streams"]}
    assert {"video", "audio"} <= streams
    return "new"


def _temp_leftovers(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob(".*.tmp")]


def _same_outputs(folder: Path, reference: Path) -> None:
    """Equal to an uninterrupted run's apart from the render's documented nondeterminism (video bytes)."""
    for name in ("subtitles.srt", "subtitles.vtt", "subtitles.ass", "script.json"):
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    got, want = (json.loads((d / "report.json").read_text(encoding="utf-8")) for d in (folder, reference))
    assert got["lines"] == want["lines"]
    a, b = (ffprobe(d / "video.mp4") for d in (folder, reference))
    assert [(s["codec_type"], s["codec_name"]) for s in a["streams"]] == \
           [(s["codec_type"], s["codec_name"]) for s in b["streams"]]
    assert abs(float(a["format"]["duration"]) - float(b["format"]["duration"])) < 0.05


def test_a_publish_that_fails_half_way_leaves_the_old_complete_folder(reference: Path, tmp_path: Path,
                                                                       srt: Path) -> None:
    """Issue 20 #6: publishing copied file by file, so a failure in between left a new video beside an old
    report. Here the render artifact in the cache lost its .vtt: the copy fails after the video."""
    cache = tmp_path / "cache"
    shutil.copytree(reference / "cache", cache)
    out = tmp_path / "out"
    folder = out / "episode_zh" / MARKET
    shutil.copytree(reference / "out" / "episode_zh" / MARKET, folder)
    _plant_old(folder)
    for vtt in (cache / "render").rglob("subtitles.vtt"):
        vtt.unlink()
    subprocess.run(_args(EPISODE, out, cache, srt), capture_output=True, text=True, timeout=900)
    assert _state(folder) == "old"
    assert not _temp_leftovers(out)


def test_sigkill_at_random_points_never_leaves_a_half_written_folder(reference: Path, tmp_path: Path,
                                                                    srt: Path) -> None:
    """The fault campaign's kill part: `localize run` killed (SIGKILL, the whole process group) at seeded random
    points, from a cold cache and then over a warm one while it publishes over an old folder. Each time the
    market folder is absent, old-complete or new-complete; the next run leaves no temp behind and its outputs
    equal the uninterrupted run's."""
    rng = random.Random(20)
    out, cache = tmp_path / "out", tmp_path / "cache"
    for stage in UPSTREAM:  # the episode's understanding is reused: the kills land in the market's stages
        shutil.copytree(reference / "cache" / stage, cache / stage)
    folder = out / "episode_zh" / MARKET
    args = _args(EPISODE, out, cache, srt)
    seen: list[tuple[float, str]] = []

    def kill_after(delay: float) -> None:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        seen.append((round(delay, 1), _state(folder)))

    started = time.monotonic()
    for _ in range(2):  # cold: each kill lands in a later stage, as the cache keeps what finished
        kill_after(rng.uniform(3.0, 30.0))
    finish = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    assert finish.returncode == 0, finish.stderr[-3000:]
    warm = time.monotonic()
    subprocess.run(args, capture_output=True, text=True, timeout=900, check=True)
    warm_s = time.monotonic() - warm
    for _ in range(3):  # warm: the kill lands in the loading and publishing, over an old folder
        _plant_old(folder)
        kill_after(rng.uniform(0.3 * warm_s, 1.1 * warm_s))
    final = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr[-3000:]
    assert _state(folder) == "new"
    assert not _temp_leftovers(out, cache), "temp leftovers after the next run"
    _same_outputs(folder, reference / "out" / "episode_zh" / MARKET)
    print(f"kill campaign: {len(seen)} kills {seen}, outputs lost 0, {time.monotonic() - started:.0f} s")
