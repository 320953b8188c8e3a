"""What machine a benchmark ran on: written beside every result."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path


def machine_info(**extra: object) -> dict:
    """Date, CPU model, cores, load, Python and ffmpeg versions, plus any `extra` fields."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout
        ffmpeg = ffmpeg.splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError):
        ffmpeg = "unknown"
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "ffmpeg": ffmpeg,
        **extra,
    }
