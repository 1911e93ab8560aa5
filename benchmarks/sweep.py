"""A sweep's throughput with 1 and 2 worker processes: the same grid of trials, trials an hour.

    python benchmarks/sweep.py [--config configs/default.yaml] [--trials 8] [--epochs 5]
                               [--workers 1,2] [--reps 1] [--output FOLDER]

Each row runs ``windowner sweep`` on a fresh sweep folder (a journal file) with a grid of ``--trials``
learning rates, one seed each, ``--epochs`` epochs of the config (every worker one BLAS thread), and
times it from start to end (start-up, data loading and the study's bookkeeping included). The trials are
the same for every worker count (the same grid, seed and data), so the ratio of the times is the speed-up.
The machine's load average before and after each run and the CPU seconds the workers used are printed:
other processes on the cores make the ratio smaller, so read it with them.

Two columns tell the sweep's own cost from the machine's: ``s/trial`` is a trial's mean wall time (from
the study's start and end times of each trial: building the run, training, scoring, writing), and
``in trials`` the share of the workers' time (workers x seconds) spent inside trials. A share near 100 %
with two workers says the sweep keeps both busy; a slower ``s/trial`` with two workers than with one says
the trials themselves ran slower side by side (the cores, their caches, or other jobs on the machine).
The last line is the median over reps of each rep's ratio, which a drift in the machine's speed between
reps moves less than the ratio of the best times.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import optuna
import yaml
from optuna.storages.journal import JournalFileBackend, JournalStorage

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    with open("/proc/loadavg") as file:
        return file.read().split()[0]


def trial_seconds(folder: Path) -> list[float]:
    """Each finished trial's wall time in the sweep ``folder`` (its study is named as the folder), from
    the study's journal."""
    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    study = optuna.load_study(study_name=folder.name, storage=storage)
    return [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False)
        if t.datetime_complete is not None and t.datetime_start is not None
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--trials", type=int, default=8, help="grid points (learning rates), one seed each")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--reps", type=int, default=1, help="runs of each worker count, interleaved")
    parser.add_argument("--output", help="folder of the sweeps (default: a temporary one, removed after)")
    args = parser.parse_args(argv)
    folder = Path(args.output or tempfile.mkdtemp(prefix="windowner-sweep-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rates = [round(0.0005 * (k + 1), 6) for k in range(args.trials)]
    env = {**os.environ, "WINDOWNER_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    counts = [int(w) for w in args.workers.split(",")]
    times: dict[int, list[float]] = {w: [] for w in counts}
    print(
        f"{args.trials} trials (train.lr grid, seed 0) x {args.epochs} epochs of {args.config};"
        f" {os.cpu_count()} cores"
    )
    print(
        f"{'workers':>7}  {'rep':>3}  {'seconds':>8}  {'trials/hour':>11}  {'cpu s':>6}  {'s/trial':>7}"
        f"  {'in trials':>9}  load before/after"
    )
    for rep in range(args.reps):
        for workers in counts:
            name = f"w{workers}-r{rep}"
            shutil.rmtree(folder / name, ignore_errors=True)
            sweep = {
                "config": str(Path(args.config).resolve()),
                "set": [f"train.epochs={args.epochs}", "data.test=null"],
                "output": str(folder / name),
                "search": "grid",
                "space": {"train.lr": rates},
                "seeds": [0],
            }
            path = folder / f"{name}.yaml"
            path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
            before, cpu = load(), resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            command = [sys.executable, "-m", "windowner.cli", "sweep", str(path), "--workers", str(workers)]
            subprocess.run([*command, "--quiet"], env=env, check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime  # the workers' CPU time
            times[workers].append(seconds)
            rate = args.trials / seconds * 3600
            spent = trial_seconds(folder / name)
            share = sum(spent) / (workers * seconds)
            print(
                f"{workers:>7}  {rep:>3}  {seconds:>8.1f}  {rate:>11.0f}  {used:>6.1f}"
                f"  {sum(spent) / len(spent):>7.2f}  {100 * share:>8.1f}%  {before}/{load()}",
                flush=True,
            )
    base = min(times[counts[0]])
    print()
    for workers in counts:
        best = min(times[workers])
        print(
            f"{workers} worker(s): best {best:.1f} s, {args.trials / best * 3600:.0f} trials/hour,"
            f" {base / best:.2f}x {counts[0]} worker(s)"
        )
    for workers in counts[1:]:
        ratios = [a / b for a, b in zip(times[counts[0]], times[workers], strict=True)]
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"{workers} worker(s) against {counts[0]}, rep by rep: {shown}; median {median(ratios):.2f}x")
    if not args.output:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
