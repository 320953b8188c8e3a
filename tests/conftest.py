"""Shared test helpers: the sample episode, ../shared/media, ffprobe, a progress recorder."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "episode.mp4"
SHARED_MEDIA = ROOT.parent / "shared" / "media"


def shared_media(relative: str) -> Path:
    """A file under ../shared/media, or skip: a user's clone does not have it."""
    path = SHARED_MEDIA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media ships with the development workspace, not with clones)")
    return path


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


class RecordingProgress:
    """Records which progress tasks the pipeline opened: a cached stage opens none."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def task(self, label: str, total: int | None = None):
        self.labels.append(label)
        return self

    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def pytest_configure(config: pytest.Config) -> None:
    # Artifacts of module-scoped fixtures that name no cache: a temp dir, never the user's cache.
    os.environ.setdefault("LOCALIZE_CACHE_DIR", tempfile.mkdtemp(prefix="localize-test-cache-"))
    # The Spanish sample's en-US takes Apertium, not a market-own LLM pass (the shipped route table's es->en
    # choice, 3.5 s a line): dozens of tests render it without testing translation. The LLM routes have their
    # own tests (test_llamacpp.py, test_route.py), which set or clear this themselves where it matters.
    os.environ.setdefault("LOCALIZE_ROUTE_MAX_COST", "1")


@pytest.fixture(autouse=True)
def _isolated_models(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Assembled models (Whisper base) go to a per-session temp dir, not the user's cache.
    monkeypatch.setenv("LOCALIZE_MODELS_DIR", str(models_dir))
    # Each test's runs that name no cache_dir share only that test's artifact cache.
    monkeypatch.setenv("LOCALIZE_CACHE_DIR", str(tmp_path / "artifact-cache"))
    # No model hub here: libraries that would try one (whisperX alignment) fail at once, no retries.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def postgres_url() -> object:
    """The URL of a PostgreSQL server started for this test session (skips where the server or psycopg is absent;
    ./scripts/test installs both)."""
    from tests.postgres import server_bin, temporary_server

    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'localize[postgres]'")
    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found: apt-get install postgresql")
    with temporary_server(bin_dir) as url:
        yield url
