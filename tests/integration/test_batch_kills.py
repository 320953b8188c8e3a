"""The fault campaign's batch half (issue 20): a real `localize batch` killed with SIGKILL (the whole process
group: the coordinator and its pool workers) at seeded random points, re-run after each kill over the same
output folder, database and artifact cache, then run to the end. The final state must equal an
uninterrupted batch's: every job done once, every market folder complete with the same outputs, no temp
leftovers, no job left running, no coordinator left registered. After each kill, every market folder is absent
or complete, and every market job the database calls done has its folder. One more case kills a single pool
worker (as the OOM killer would): the batch retries the jobs it held and finishes by itself.

The catalog is two 4 s cuts of the Spanish sample into en-US (Apertium) and pt-BR (Apertium > Bergamot),
dubbed with espeak-ng (deterministic, unlike Piper): no LLM, so a whole batch takes seconds."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from localize.apps.catalog import status
from localize.apps.catalog.db import JobRow, StateDB, default_url
from localize.apps.catalog.events import read_events
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration

MARKETS = ("en-US", "pt-BR")
EPISODES = ("ep01", "ep02")
FILES = {"video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass", "subtitles.ttml", "script.json",
         "report.json", "report.html", "run.json"}
BYTE_EQUAL = ("subtitles.srt", "subtitles.vtt", "subtitles.ass", "subtitles.ttml", "script.json")
SEED = 20


def _cut(src: Path, out: Path, start_s: float, seconds: float) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-i", str(src), "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out)], check=True)


def _catalog(folder: Path, episodes: Path) -> Path:
    path = folder / "catalog.toml"
    markets = ", ".join(f'"{m}"' for m in MARKETS)
    path.write_text(f'[defaults]\nlanguage = "es"\ntts_backend = "espeak"\n\n[[series]]\nname = "demo"\n'
                    f'episodes = ["{episodes}/*.mp4"]\nmarkets = [{markets}]\n', encoding="utf-8")
    return path


def _batch_args(catalog: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "localize", "batch", str(catalog), "--out", str(out), "--workers", "2",
            "--cache-dir", str(out / ".cache")]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eps")
    _cut(SAMPLE, folder / "ep01.mp4", 0, 4)
    _cut(SAMPLE, folder / "ep02.mp4", 4, 4)
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, episodes: Path) -> tuple[Path, float]:
    """An uninterrupted batch (its own output folder and cache) and how long it took."""
    root = tmp_path_factory.mktemp("reference")
    started = time.monotonic()
    proc = subprocess.run(_batch_args(_catalog(root, episodes), root / "out"), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "out", time.monotonic() - started


def _temp_leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".*.tmp"))


def _folder_state(folder: Path) -> str:
    """A market folder after a kill: 'absent' or 'complete' (every file there and readable), nothing between."""
    if not folder.exists():
        return "absent"
    names = {p.name for p in folder.iterdir()}
    assert names == FILES, f"half a market folder after a kill: {folder} has {sorted(names)}"
    for name in ("script.json", "report.json", "run.json"):
        json.loads((folder / name).read_text(encoding="utf-8"))
    assert {"video", "audio"} <= {s["codec_type"] for s in ffprobe(folder / "video.mp4")["streams"]}
    return "complete"


def _longest_jobs(events: Path) -> dict[str, float]:
    """How long the longest job of each kind took in a batch's event log."""
    took = {"understand": 0.0, "market": 0.0}
    for e in read_events(events):
        if e["event"] == "job_finished":
            kind = "understand" if e["job"].endswith("/understand") else "market"
            took[kind] = max(took[kind], e["seconds"])
    return took


def _pool_workers(pid: int) -> list[int]:
    """The pool's worker processes under the coordinator `pid` (not multiprocessing's resource tracker)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    workers = []
    for child in sorted(children):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(child)
    return workers


def _audio_md5(path: Path) -> str:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f", "md5", "-"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _same_outputs(folder: Path, want: Path) -> None:
    """Equal to the uninterrupted batch's apart from the render's documented nondeterminism (video bytes)."""
    assert {p.name for p in folder.iterdir()} == {p.name for p in want.iterdir()} == FILES
    for name in BYTE_EQUAL:
        assert (folder / name).read_bytes() == (want / name).read_bytes(), f"{folder / name} differs"
    got, ref = (json.loads((d / "report.json").read_text(encoding="utf-8")) for d in (folder, want))
    assert got["lines"] == ref["lines"], f"{folder / 'report.json'} lines differ"
    a, b = (ffprobe(d / "video.mp4") for d in (folder, want))
    assert [(s["codec_type"], s["codec_name"]) for s in a["streams"]] == \
           [(s["codec_type"], s["codec_name"]) for s in b["streams"]]
    assert abs(float(a["format"]["duration"]) - float(b["format"]["duration"])) < 0.05
    assert _audio_md5(folder / "video.mp4") == _audio_md5(want / "video.mp4")  # espeak-ng is deterministic


def _check_final_state(out: Path, args: list[str], want: Path) -> None:
    """Every job done once, nothing running, nothing left to do, outputs equal to `want`'s, no temp leftovers."""
    db = StateDB(default_url(out))
    rows = db.jobs()
    assert len(rows) == len(EPISODES) * (1 + len(MARKETS))
    assert {r.status for r in rows} == {"done"}, [(r.id, r.status, r.error) for r in rows]
    assert all(r.done_hash == r.input_hash for r in rows)
    assert db.coordinator() is None, "the last batch left itself registered as running"
    found = status(out)
    assert found.complete and found.running_batch is None
    # No job finished twice: a finished job is never run again by the batch that follows a kill.
    finished = Counter(e["job"] for e in read_events(out / "events.jsonl") if e["event"] == "job_finished")
    assert set(finished) <= {r.id for r in rows} and max(finished.values()) == 1, finished

    events_before = len(read_events(out / "events.jsonl"))
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)  # every job done: nothing runs
    assert again.returncode == 0, again.stderr[-3000:]
    assert [e["event"] for e in read_events(out / "events.jsonl")[events_before:]] == ["batch_started",
                                                                                       "batch_finished"]

    for episode in EPISODES:
        for market in MARKETS:
            _same_outputs(out / "demo" / episode / market, want / "demo" / episode / market)
    assert not _temp_leftovers(out), f"temp leftovers after the batch finished: {_temp_leftovers(out)}"


def test_sigkill_at_random_points_of_a_batch_loses_nothing(episodes: Path, reference: tuple[Path, float],
                                                           tmp_path: Path) -> None:
    want, reference_s = reference
    took = _longest_jobs(want / "events.jsonl")
    rng = random.Random(SEED)
    out = tmp_path / "out"
    args = _batch_args(_catalog(tmp_path, episodes), out)
    seen: list[tuple[str, float, int, str]] = []  # (where, delay s, jobs done in the database, folders complete)
    events = out / "events.jsonl"

    def started_jobs(kind: str) -> int:
        """How many jobs of `kind` ('understand' or 'market') the batches on `out` have started so far."""
        if not events.is_file():
            return 0
        return sum(e["event"] == "job_started" and e["kind"] == kind for e in read_events(events))

    def kill(where: str, delay: float) -> None:
        """Start the batch and SIGKILL it `delay` s after it starts ('startup') or after it starts a job of the
        kind `where` names. Then check that every market folder is absent or complete."""
        before = started_jobs(where)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while where != "startup" and started_jobs(where) == before and proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.wait(timeout=delay)
            seen.append((where + ", finished first", round(delay, 1), 0, ""))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and every pool worker
            proc.wait()
            states = [_folder_state(out / "demo" / e / m) for e in EPISODES for m in MARKETS]
            rows: list[JobRow] = []
            if (out / "localize.db").exists():
                state = StateDB(default_url(out))
                rows = state.jobs()
                state.close()
            for row in rows:  # a job the database calls done has its whole folder
                if row.status == "done" and row.output:
                    assert _folder_state(Path(row.output)) == "complete", f"{row.id} done, its folder absent"
            done = sum(r.status == "done" for r in rows)
            seen.append((where, round(delay, 1), done, f"{states.count('complete')}/{len(states)}"))

    def kill_a_worker(delay: float) -> None:
        before = started_jobs("market")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        deadline = time.monotonic() + 600
        while started_jobs("market") == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        workers = _pool_workers(proc.pid)
        if proc.poll() is not None or not workers:
            proc.communicate()
            seen.append(("a worker, finished first", round(delay, 1), 0, ""))
            return
        os.kill(rng.choice(workers), signal.SIGKILL)
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        assert any(e["event"] == "job_retry" and "worker process died" in e["error"] for e in read_events(events))
        seen.append(("a worker", round(delay, 1), len(EPISODES) * (1 + len(MARKETS)), ""))

    started = time.monotonic()
    kill("startup", rng.uniform(0.5, 4.0))  # importing, reading the catalog, hashing, spawning the pool
    for kind in ("understand", "market", "market", "market"):
        # A seeded point inside a job of that kind: a fraction of how long such a job took uninterrupted.
        kill(kind, rng.uniform(0.05, 0.95) * took[kind])
    # One pool worker killed alone (as the OOM killer would) inside a market job: the coordinator sees its pool
    # broken, retries the jobs that were in it and finishes the batch by itself.
    kill_a_worker(rng.uniform(0.05, 0.95) * took["market"])
    final = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr[-3000:]

    _check_final_state(out, args, want)
    kills = [s for s in seen if "finished" not in s[0]]
    print(f"batch kill campaign: {len(kills)} kills of {len(seen)} tries (where, delay s, jobs done, folders "
          f"complete) {seen}; "
          f"reference {reference_s:.0f} s, campaign {time.monotonic() - started:.0f} s; outputs lost 0")
