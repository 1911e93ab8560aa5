"""Every benchmark, one after another: the tables of docs/benchmarks.md.

    python benchmarks/run.py [--quick] [--only NAME,...]

Each benchmark is a script of this folder, run in a fresh process with this interpreter; each prints a
markdown table. PyTorch, pandas and gensim are peers measured where they are installed (never needed to
run windowner); for all of them at once, run this with a Python that has torch and the PyTorch reference
(the module ``torch_window``, not part of this repository), with windowner and the ``bench`` extra
installed (``pip install -e '.[bench]'``).

They need GloVe 6B 50d (``glove.6B.50d.txt`` in ``glove.6B.zip`` from
https://nlp.stanford.edu/projects/glove/; each script takes it as ``--glove PATH``, and this one leaves
them at their default, ``~/.cache/windowner-bench/glove.6B.50d.txt``) and CoNLL-2003 in
``data/conll2003/`` (see its README). ``--quick`` runs each with fewer repetitions (a check that they
work, not numbers to report). With the machine otherwise idle the whole takes about
25 minutes; its tables, with their date, are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = {  # name: (script, its arguments, with --quick)
    "vectors": ("vectors.py", ["--repeats", "5", "--reference"], ["--repeats", "1"]),
    "training": ("training.py", [], ["--reps", "1", "--max-windows", "20000"]),
    "fine_tuning": ("fine_tuning.py", [], ["--reps", "1", "--max-windows", "20000"]),
    "threads": ("threads.py", ["--reps", "3"], ["--reps", "1", "--steps", "50"]),
    "predict": ("predict_speed.py", [], []),
    "scale": ("scale.py", [], ["--multiples", "1,2", "--steps", "200"]),
    "vectorisation": ("vectorisation.py", [], ["--repeats", "3"]),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {sys.executable}")
    for name in args.only.split(","):
        script, full, quick = BENCHMARKS[name]
        print(
            f"\n## {name}: python benchmarks/{script} {' '.join(quick if args.quick else full)}\n", flush=True
        )
        subprocess.run([sys.executable, str(HERE / script), *(quick if args.quick else full)], check=False)


if __name__ == "__main__":
    main()
