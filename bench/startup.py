"""Start-up time and idle memory of `inference-bot run` (HTTP mode, real RUNAI_URL, SQLite).

The Run:ai emulator runs in its own process, started once, so the bot sees a real
RUNAI_URL as in production (it neither embeds nor imports the emulator). Then, `--runs`
times: start `python -m bot run` on a fresh SQLite database, poll GET /healthz every 5 ms
and time the first 200 from the moment the process was started; let it settle
(`--settle` seconds, the poller ticking), then read its resident memory from /proc
(VmRSS). Last, one more start under `python -X importtime` to list where import time goes.

Prints /healthz time, the CPU the process had used by then (which other load on the host
does not inflate) and idle RSS (median, min, max), and the import-time top ten: the
packages whose modules took the most time to import (the sum of their own, "self", times).
Goals: /healthz within 1.0 s, idle RSS ≤ 90 MB.

Two installs are measured, each on its own lines: this checkout as developers run it (the
editable install with the test extras: pytest brings Pygments, which httpx then imports),
and, with `--installed`, the bot as users run it: the wheel built and installed into a
fresh virtual environment, not editable and without test extras, as the Dockerfile does
(that build takes a minute the first time; `--venv DIR` keeps it for the next run).

    .venv/bin/python bench/startup.py [--runs 5] [--settle 3] [--installed [--venv DIR]]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.emulator_process import ROOT, free_port, start_emulator

CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"
HEALTHZ_GOAL_SECONDS = 1.0
RSS_GOAL_MB = 90.0


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Poll `url` until it answers 200; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before {url} answered")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, OSError),
            urllib.request.urlopen(url, timeout=1) as response,
        ):
            if response.status == 200:
                return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:g}s")


def _rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used, from /proc/<pid>/stat (robust to a busy host)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bot_env(runai_url: str, db_dir: Path, port: int, checkout: bool) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RUNAI_", "DATABASE_"))
    }
    env.update(
        {
            "RUNAI_URL": runai_url,
            "RUNAI_CLIENT_ID": CLIENT_ID,
            "RUNAI_CLIENT_SECRET": CLIENT_SECRET,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db_dir / 'bot.db'}",
            "PORT": str(port),
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
            "SLACK_BOT_TOKEN": "xoxb-bench",
            # Nothing listens there: start-up must not wait for Slack.
            "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
            "LOG_LEVEL": "WARNING",
        }
    )
    if checkout:
        env["PYTHONPATH"] = str(ROOT)
    else:
        env.pop("PYTHONPATH", None)
    return env


@contextlib.contextmanager
def _bot(
    python: str, runai_url: str, *python_flags: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, float, Path]]:
    """A started `python -m bot run`: (process, /healthz URL, start time, stderr file)."""
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        port = free_port()
        err = Path(tmp) / "stderr"
        with err.open("wb") as stderr:
            started = time.monotonic()
            proc = subprocess.Popen(
                [python, *python_flags, "-m", "bot", "run"],
                cwd=tmp,
                env=_bot_env(runai_url, Path(tmp), port, checkout=python == sys.executable),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                yield proc, f"http://127.0.0.1:{port}/healthz", started, err
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def measure(python: str, runai_url: str, settle: float) -> tuple[float, float, float]:
    """One start: seconds to the first /healthz 200, CPU seconds used by then, and idle
    RSS in MB after `settle`."""
    with _bot(python, runai_url) as (proc, healthz, started, err):
        try:
            ready = _wait_http(healthz, 30, proc)
        except (RuntimeError, TimeoutError):
            sys.stderr.write(err.read_text()[-3000:])
            raise
        cpu = _cpu_seconds(proc.pid)
        time.sleep(settle)
        return ready - started, cpu, _rss_mb(proc.pid)


def import_top_ten(python: str, runai_url: str) -> list[tuple[str, float, int]]:
    """(package, self import time in ms summed over its modules, modules) of one start."""
    with _bot(python, runai_url, "-X", "importtime") as (proc, healthz, _, err):
        _wait_http(healthz, 30, proc)
        lines = err.read_text().splitlines()
    by_package: dict[str, float] = defaultdict(float)
    modules: dict[str, int] = defaultdict(int)
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not self_us.isdigit():
            continue  # the header line
        package = name.split(".")[0]
        by_package[package] += int(self_us) / 1000
        modules[package] += 1
    top = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return [(name, ms, modules[name]) for name, ms in top]


def installed_python(venv: Path | None) -> str:
    """The interpreter of the bot installed as the Dockerfile installs it: `pip wheel .`,
    then `pip install` of that wheel into a fresh virtual environment (not editable, no
    test extras). Kept in `venv` when given (built there if missing)."""
    if venv is not None and (venv / "bin" / "inference-bot").exists():
        return str(venv / "bin" / "python")
    work = Path(tempfile.mkdtemp(prefix="startup-install-"))
    venv = venv or work / "venv"
    wheels, src = work / "wheels", work / "src"
    src.mkdir()
    # What the Dockerfile's build stage copies; built there, so no build/ is left here.
    for name in ("pyproject.toml", "setup.py", "README.md", "bot", "templates"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
        **quiet,  # type: ignore[call-overload]
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], **quiet)  # type: ignore[call-overload]
    wheel = next(wheels.glob("inference_bot-*.whl"))
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        **quiet,  # type: ignore[call-overload]
    )
    return str(venv / "bin" / "python")


def report(label: str, runs: list[tuple[float, float, float]], settle: float) -> bool:
    """Print one install's figures; whether it met both goals."""
    healthz = sorted(r[0] for r in runs)
    cpu = sorted(r[1] for r in runs)
    rss = sorted(r[2] for r in runs)
    print(f"{label}: {len(runs)} starts")
    print(
        f"  /healthz after start: median {statistics.median(healthz):.2f} s "
        f"(min {min(healthz):.2f}, max {max(healthz):.2f}); goal ≤ {HEALTHZ_GOAL_SECONDS:g} s"
    )
    print(
        f"  CPU used by then: median {statistics.median(cpu):.2f} s "
        f"(min {min(cpu):.2f}, max {max(cpu):.2f}); on a busy host wall time exceeds it"
    )
    print(
        f"  idle RSS after {settle:g} s: median {statistics.median(rss):.1f} MB "
        f"(min {min(rss):.1f}, max {max(rss):.1f}); goal ≤ {RSS_GOAL_MB:g} MB"
    )
    return (
        statistics.median(healthz) <= HEALTHZ_GOAL_SECONDS and statistics.median(rss) <= RSS_GOAL_MB
    )


def main() -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before RSS")
    parser.add_argument(
        "--installed",
        action="store_true",
        help="also measure the wheel as the Dockerfile installs it",
    )
    parser.add_argument("--venv", type=Path, help="where to keep (or find) that install")
    args = parser.parse_args()

    pythons = {"this checkout (editable, with test extras)": sys.executable}
    if args.installed:
        pythons["as installed (the wheel, not editable, no extras)"] = installed_python(args.venv)
    port = free_port()
    emulator = start_emulator(port, CLIENT_ID, CLIENT_SECRET, phase_seconds=2.0)
    try:
        runai_url = f"http://127.0.0.1:{port}"
        _wait_http(f"{runai_url}/emulator/stats", 30, emulator)
        # Interleaved, so that a burst of load on the host falls on both alike.
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in pythons}
        for _ in range(args.runs):
            for label, python in pythons.items():
                runs[label].append(measure(python, runai_url, args.settle))
        top = import_top_ten(sys.executable, runai_url)
    finally:
        emulator.terminate()
        emulator.wait(timeout=15)

    print("inference-bot run, HTTP mode, RUNAI_URL = an emulator process, a fresh SQLite database")
    met = [report(label, runs[label], args.settle) for label in pythons]
    print("import time of this checkout, top ten packages (self time summed over their modules):")
    for name, ms, count in top:
        print(f"  {name:<24} {ms:7.1f} ms  ({count} modules)")
    for label, ok in zip(pythons, met, strict=True):
        print(f"{label}: goals {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
