"""A real batch: two short episodes x two markets through the embedded pipeline on the local pool; a re-run
does nothing; a batch killed mid-way resumes to the same outputs; the same graph on a local Ray instance."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from localize.apps.catalog import Catalog, status
from localize.apps.catalog.db import StateDB, default_url
from localize.apps.catalog.events import read_events
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration

MARKETS = ("en-US", "pt-BR")


def cut(src: Path, out: Path, start_s: float, seconds: float) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-i", str(src), "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out)], check=True)
    return out


def write_catalog(folder: Path, episodes: str = "eps/*.mp4") -> Path:
    path = folder / "catalog.toml"
    # espeak-ng for both markets: Piper (en-US's first choice) samples VITS noise from a stream that advances
    # with every call, so a clip it re-synthesizes after a kill is not bit-identical (see README).
    path.write_text(f'[defaults]\nlanguage = "es"\ntts_backend = "espeak"\n\n[[series]]\nname = "demo"\nepisodes = ["{episodes}"]\n'
                    f'markets = {list(MARKETS)!r}\n'.replace("'", '"'), encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_keys(cache: Path) -> set[str]:
    return {f"{p.parts[-3]}:{p.name}" for p in cache.glob("*/*/*") if not p.name.startswith(".")}


def stream_md5(path: Path, stream: str) -> str:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-f", "md5", "-"],
                          capture_output=True, text=True, check=True).stdout.strip()


def frames(path: Path) -> int:
    return int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                               "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                              capture_output=True, text=True, check=True).stdout)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("catalog")
    (root / "eps").mkdir()
    cut(SAMPLE, root / "eps" / "ep01.mp4", 0, 4)
    cut(SAMPLE, root / "eps" / "ep02.mp4", 4, 4)
    result = Catalog.load(write_catalog(root)).run(root / "out", executor="local", workers=2,
                                                   cache_dir=root / "out" / ".cache")
    return root, result


def test_batch_renders_every_episode_into_every_market(batch: tuple[Path, object]) -> None:
    root, result = batch
    assert result.ok and result.ran == 6 and result.skipped == 0  # type: ignore[attr-defined]
    for episode in ("ep01", "ep02"):
        for market in MARKETS:
            folder = root / "out" / "demo" / episode / market
            probe = ffprobe(folder / "video.mp4")
            kinds = sorted(s["codec_type"] for s in probe["streams"])
            assert kinds == ["audio", "subtitle", "video"]
            assert abs(float(probe["format"]["duration"]) - 4.0) < 0.2
            assert (folder / "report.json").is_file() and (folder / "subtitles.srt").is_file()
    rows = StateDB(default_url(root / "out")).jobs()
    assert len(rows) == 6 and {r.status for r in rows} == {"done"} and all(r.seconds for r in rows)
    found = status(root / "out")
    assert found.complete and {s.stage for s in found.stages} == {"understand", *MARKETS}

    finished = [e for e in read_events(root / "out" / "events.jsonl") if e["event"] == "job_finished"]
    assert len(finished) == 6
    # Shared work ran once per episode: the market jobs found the understanding in the cache.
    built = Counter(b for e in finished for b in e["built"])
    assert built and max(built.values()) == 1
    for e in finished:
        stages = {b.split(":")[0] for b in e["built"]}
        if e["job"].endswith("understand"):
            assert {"audio", "asr", "script", "separate"} <= stages
        else:
            assert {"render", "mix"} <= stages and not stages & {"audio", "asr", "script", "separate"}
            assert {"audio", "asr", "script", "separate"} <= {r.split(":")[0] for r in e["reused"]}


def test_rerun_does_nothing(batch: tuple[Path, object]) -> None:
    root, _ = batch
    video = root / "out" / "demo" / "ep01" / "en-US" / "video.mp4"
    before = video.stat().st_mtime_ns
    again = Catalog.load(root / "catalog.toml").run(root / "out", executor="inline", cache_dir=root / "out" / ".cache")
    assert again.ran == 0 and again.skipped == 6 and again.ok
    assert video.stat().st_mtime_ns == before


def test_killed_batch_resumes_to_the_same_outputs(batch: tuple[Path, object], tmp_path: Path) -> None:
    root, _ = batch
    (tmp_path / "eps").mkdir()
    os.link(root / "eps" / "ep01.mp4", tmp_path / "eps" / "ep01.mp4")
    catalog = write_catalog(tmp_path)
    out = tmp_path / "out"
    events = out / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "localize", "batch", str(catalog), "--out", str(out),
                             "--workers", "2", "--cache-dir", str(out / ".cache")], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:  # kill once a market job is under way
            if events.is_file() and any(e["event"] == "job_started" and not e["job"].endswith("understand")
                                        for e in read_events(events)):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the batch finished before it could be killed"
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = StateDB(default_url(out)).jobs()
    assert any(r.status != "done" for r in killed)

    resumed = Catalog.load(catalog).run(out, executor="local", workers=2, cache_dir=out / ".cache")
    assert resumed.ok and resumed.ran + resumed.skipped == 3
    # Every stage of the resumed run had the same inputs as in the uninterrupted batch: the same cache keys.
    assert artifact_keys(out / ".cache") <= artifact_keys(root / "out" / ".cache")
    for market in MARKETS:
        mine, reference = out / "demo" / "ep01" / market, root / "out" / "demo" / "ep01" / market
        for name in ("subtitles.srt", "subtitles.ass", "subtitles.vtt", "script.json"):
            assert sha(mine / name) == sha(reference / name)
        # The render itself is not bit-reproducible (libx264's frame threads with the ass filter drawing the
        # AI label change the last frames now and then, with or without a kill): same sound, same frame count.
        assert stream_md5(mine / "video.mp4", "a") == stream_md5(reference / "video.mp4", "a")
        assert frames(mine / "video.mp4") == frames(reference / "video.mp4")
    finished = [e for e in read_events(events) if e["event"] == "job_finished"]
    assert Counter(e["job"] for e in finished).most_common(1)[0][1] == 1  # no finished job ran twice
    built = Counter(b for e in finished for b in e["built"])
    assert max(built.values()) == 1  # no cached stage was built twice


def test_same_graph_on_a_local_ray_instance(batch: tuple[Path, object], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    root, _ = batch
    catalog = write_catalog(tmp_path, str(root / "eps" / "ep01.mp4"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # The artifact cache of the local batch: the jobs run on Ray workers and publish from it.
        result = Catalog.load(catalog).run(tmp_path / "out", executor="ray", cache_dir=root / "out" / ".cache")
    finally:
        ray.shutdown()
    assert result.ok and result.ran == 3
    for market in MARKETS:
        video = tmp_path / "out" / "demo" / "ep01" / market / "video.mp4"
        assert sha(video) == sha(root / "out" / "demo" / "ep01" / market / "video.mp4")
    pids = {e["pid"] for e in read_events(tmp_path / "out" / "events.jsonl") if e["event"] == "job_finished"}
    assert os.getpid() not in pids


def _free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _ray_start(*args: str) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    proc = subprocess.run([str(ray_cli), "start", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                           "--disable-usage-stats", *args], capture_output=True, text=True, timeout=180,
                          env=os.environ.copy())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_same_graph_on_a_two_node_ray_cluster_on_loopback(batch: tuple[Path, object], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`ray start --head` and a second node joining it on 127.0.0.1, one CPU and its own workers each, with
    Ray's token authentication on; `localize batch --executor ray --address` on it, the episode given as an
    fsspec URL. Every job runs once, the two market jobs on different nodes, and the outputs are the local
    batch's."""
    import secrets

    pytest.importorskip("ray")
    root, _ = batch
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # the nodes, their workers and the batch share one token
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
    port, *node_ports = _free_ports(8)
    catalog = write_catalog(tmp_path, (root / "eps" / "ep01.mp4").as_uri())  # file://: read through fsspec
    out = tmp_path / "out"
    try:
        _ray_start("--head", f"--port={port}", "--include-dashboard=false", f"--node-manager-port={node_ports[0]}",
                   f"--object-manager-port={node_ports[1]}", "--min-worker-port=20000", "--max-worker-port=20999")
        _ray_start(f"--address=127.0.0.1:{port}", f"--node-manager-port={node_ports[2]}",
                   f"--object-manager-port={node_ports[3]}", "--min-worker-port=21000", "--max-worker-port=21999",
                   f"--dashboard-agent-listen-port={node_ports[4]}", f"--metrics-export-port={node_ports[5]}",
                   f"--runtime-env-agent-port={node_ports[6]}")
        proc = subprocess.run([sys.executable, "-m", "localize", "batch", str(catalog), "--out", str(out),
                               "--executor", "ray", "--address", f"127.0.0.1:{port}",
                               "--cache-dir", str(root / "out" / ".cache")],
                              capture_output=True, text=True, timeout=600, env=os.environ.copy())
    finally:
        subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True,
                       timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    finished = [e for e in read_events(out / "events.jsonl") if e["event"] == "job_finished"]
    assert len(finished) == 3 and len({e["job"] for e in finished}) == 3  # every job once
    markets = [e for e in finished if not e["job"].endswith("understand")]
    assert len({e["node"] for e in markets}) == 2  # one CPU a node: the two market jobs ran side by side
    assert os.getpid() not in {e["pid"] for e in finished}
    for market in MARKETS:
        video = out / "demo" / "ep01" / market / "video.mp4"
        assert sha(video) == sha(root / "out" / "demo" / "ep01" / market / "video.mp4")


def test_a_batch_worker_loads_each_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from localize.core import modelcache
    from localize.stages.script.asr import AsrOptions
    from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer
    from localize.stages.script.speakers.embed import Embedder

    monkeypatch.setattr(modelcache, "_models", {})  # what init_worker() turns on in each pool or Ray worker
    first, second = FasterWhisperRecognizer(AsrOptions()), FasterWhisperRecognizer(AsrOptions())
    assert first._load() is second._load()  # two jobs' recognizers, one Whisper model
    with Embedder() as a, Embedder() as b:
        assert a._encoder is b._encoder
    monkeypatch.setattr(modelcache, "_models", None)  # a normal run: each stage loads and releases its own
    assert FasterWhisperRecognizer(AsrOptions())._load() is not first._load()
