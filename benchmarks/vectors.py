"""How fast word vectors load: windowner against reading the bytes, numpy, pandas and gensim.

    python benchmarks/vectors.py [--glove PATH] [--conll FOLDER] [--repeats N] [--reference]

Every load runs in a fresh Python process (with one BLAS thread and its own temporary cache folder), the
cases interleaved, ``--repeats`` times each; the table shows medians of

* **load**: the seconds of the load call alone, measured inside the process (after imports);
* **process**: the seconds of the whole process, interpreter start and imports included;
* **CPU**: the process's user + system CPU seconds (less sensitive than wall time to other jobs on the
  machine, though they still slow it through shared caches);
* **peak RSS**: the process's maximum resident memory (``ru_maxrss`` from ``wait4``).

windowner's text parser uses two threads on a machine with two cores or more (``parse_workers`` in
``windowner/data/vectors/fast.py``); the "one parsing thread" rows set ``WINDOWNER_THREADS=1`` to show what
the second thread gains; ``--busy`` keeps one core busy with another process meanwhile.

The GloVe file is ``glove.6B.50d.txt`` (400k words, 50 dimensions): ``../shared/tools/get-glove`` writes
it to ``~/.cache/windowner-bench/``. The CoNLL-2003 case reads the words of ``train.txt`` and
``valid.txt`` in ``--conll`` at run time and loads only their look-up keys, as training does. Peers that
are not installed (pandas, gensim: ``pip install '.[bench]'``) are skipped with a note.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GLOVE = Path.home() / ".cache" / "windowner-bench" / "glove.6B.50d.txt"
DEFAULT_CONLL = ROOT.parent / "shared" / "data" / "conll2003"

PRELUDE = """
import sys, time
sys.path.insert(0, {root!r})
path, conll, npy = {glove!r}, {conll!r}, {npy!r}
"""

WANTED = """
from windowner.data.conll import read_conll
from windowner.data.vocab import lookup_keys
tokens = (t for name in ("train.txt", "valid.txt") for s in read_conll(f"{conll}/{name}") for t in s.tokens)
wanted = lookup_keys(tokens, lowercase=True, normalize_digits=True)
"""

# the text parser's threads (vectors.parse_workers)
ONE_THREAD = "import os; os.environ['WINDOWNER_THREADS'] = '1'\n"

# name -> (what is measured, setup code, the timed statement, the module it needs)
CASES: dict[str, tuple[str, str, str, str]] = {
    "bytes": ("reading the bytes alone", "", "data = open(path, 'rb').read()", ""),
    "windowner-all": (
        "windowner, all words (cache off)",
        "from windowner.vectors import read_vectors",
        "words, matrix = read_vectors(path, cache=False)",
        "",
    ),
    "windowner-conll": (
        "windowner, CoNLL-2003 words (cache off)",
        "from windowner.vectors import read_vectors" + WANTED,
        "words, matrix = read_vectors(path, wanted, lowercase=True, cache=False)",
        "",
    ),
    "windowner-all-1": (
        "windowner, all words (cache off), one parsing thread",
        ONE_THREAD + "from windowner.vectors import read_vectors",
        "words, matrix = read_vectors(path, cache=False)",
        "",
    ),
    "windowner-conll-1": (
        "windowner, CoNLL-2003 words (cache off), one parsing thread",
        ONE_THREAD + "from windowner.vectors import read_vectors" + WANTED,
        "words, matrix = read_vectors(path, wanted, lowercase=True, cache=False)",
        "",
    ),
    "windowner-build": (
        "windowner, all words, first load (writes the cache)",
        "from windowner.vectors import read_vectors, cache_folder; import shutil;"
        " shutil.rmtree(cache_folder(), ignore_errors=True)",
        "words, matrix = read_vectors(path, cache=True)",
        "",
    ),
    "windowner-cached-all": (
        "windowner, all words, from the cache",
        "from windowner.vectors import read_vectors",
        "words, matrix = read_vectors(path, cache=True)",
        "",
    ),
    "windowner-cached-conll": (
        "windowner, CoNLL-2003 words, from the cache",
        "from windowner.vectors import read_vectors" + WANTED,
        "words, matrix = read_vectors(path, wanted, lowercase=True, cache=True)",
        "",
    ),
    "reference": (
        "windowner's reference parser (line by line), all words",
        "from pathlib import Path; from windowner.data.vectors import read, table",
        "words, matrix = read._read(Path(path), table.Selection(None, False, True), fast=False)",
        "",
    ),
    "numpy-npy": (
        "numpy: np.load of the matrix as .npy (mmap)",
        "import numpy as np",
        "matrix = np.load(npy, mmap_mode='r')",
        "numpy",
    ),
    "pandas": (
        "pandas: read_csv, C engine, float32",
        "import csv, numpy as np, pandas as pd",
        "frame = pd.read_csv(path, sep=' ', header=None, index_col=0, quoting=csv.QUOTE_NONE, engine='c',"
        " keep_default_na=False, na_filter=False, dtype={i: np.float32 for i in range(1, 51)})",
        "pandas",
    ),
    "gensim": (
        "gensim: KeyedVectors.load_word2vec_format(no_header=True)",
        "from gensim.models import KeyedVectors",
        "vectors = KeyedVectors.load_word2vec_format(path, binary=False, no_header=True)",
        "gensim",
    ),
}


def installed(module: str) -> bool:
    if not module:
        return True
    found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return found.returncode == 0


def run_case(
    case: str, glove: Path, conll: Path, npy: Path, env: dict[str, str]
) -> tuple[float, float, float, int]:
    """One fresh process: seconds of the load call, of the process, its CPU seconds, peak RSS in bytes."""
    _, setup, statement, _ = CASES[case]
    code = (
        PRELUDE.format(root=str(ROOT), glove=str(glove), conll=str(conll), npy=str(npy))
        + setup
        + f"\nstart = time.perf_counter()\n{statement}\nprint(time.perf_counter() - start)\n"
    )
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    assert process.stdout is not None
    out = process.stdout.read().decode()
    process.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark case {case} failed")
    cpu = usage.ru_utime + usage.ru_stime
    return float(out.strip().splitlines()[-1]), wall, cpu, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--glove", type=Path, default=DEFAULT_GLOVE, help="GloVe 6B 50d text file")
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL, help="folder of CoNLL-2003 train/valid")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each case (interleaved)")
    parser.add_argument("--reference", action="store_true", help="also time the line-by-line reference")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    parser.add_argument(
        "--busy", action="store_true", help="keep one core busy with another process meanwhile"
    )
    args = parser.parse_args()
    if not args.glove.is_file():
        raise SystemExit(f"{args.glove}: no such file (../shared/tools/get-glove writes it)")

    cases = [case for case in CASES if case != "reference" or args.reference]
    if args.only:
        cases = [case for case in cases if case in args.only]
    if not (args.conll / "train.txt").is_file():
        print(f"note: {args.conll}/train.txt not found: CoNLL-2003 cases skipped")
        cases = [case for case in cases if "conll" not in case]
    skipped = [case for case in cases if not installed(CASES[case][3])]
    for case in skipped:
        print(f"note: {CASES[case][3]} is not installed: '{CASES[case][0]}' skipped")
    cases = [case for case in cases if case not in skipped]

    with tempfile.TemporaryDirectory(prefix="windowner-bench-") as folder:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env.pop("WINDOWNER_THREADS", None)  # the default parsing threads, unless a case sets them
        env["WINDOWNER_CACHE_DIR"] = str(Path(folder) / "cache")
        npy = Path(folder) / "glove.npy"
        prepare = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); import numpy as np;"
            "from windowner.vectors import read_vectors;"
            f"words, matrix = read_vectors({str(args.glove)!r}, cache=True); np.save({str(npy)!r}, matrix)"
        )
        subprocess.run([sys.executable, "-c", prepare], env=env, check=True)  # the cache and the .npy

        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
        try:
            load_before = os.getloadavg()
            results: dict[str, list[tuple[float, float, float, int]]] = {case: [] for case in cases}
            for _ in range(args.repeats):
                for case in cases:  # (windowner-build leaves the cache it writes for the cached cases)
                    results[case].append(run_case(case, args.glove, args.conll, npy, env))
            load_after = os.getloadavg()
        finally:
            if busy:
                busy.kill()
                busy.wait()

    size = args.glove.stat().st_size
    command = " ".join(["python", "benchmarks/vectors.py", *sys.argv[1:]])
    print(f"\n`{command}`, {datetime.date.today()}, {platform.machine()} {os.cpu_count()} cores, ", end="")
    print(f"Python {platform.python_version()}; {args.glove.name} ({size / 1e6:.0f} MB), {args.repeats} runs")
    print(f"each, interleaved; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after", end="")
    print("; another process kept one core busy.\n" if args.busy else ".\n")
    print("| load | load call (s) | process (s) | process CPU (s) | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    for case in cases:
        calls, walls, cpus, peaks = (statistics.median(column) for column in zip(*results[case], strict=True))
        print(f"| {CASES[case][0]} | {calls:.3f} | {walls:.3f} | {cpus:.3f} | {peaks / 2**20:.0f} |")


if __name__ == "__main__":
    main()
