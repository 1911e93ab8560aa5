"""Progress of an epoch on stderr: a tqdm bar at a terminal, a line every few seconds in a log.

``bar`` redraws one line in place, which a terminal shows well and a log file (nohup, CI) records as
thousands of carriage returns; ``lines`` writes a plain line every ``every`` seconds instead::

    windowner: epoch 3/10: batch 3,200/17,000 (19%), 25,300 windows/s, ETA 0:54 (run 8:40)

the ETA of the epoch from its speed so far, and of the run, counting every epoch left as long as this
one (evaluation not included); an epoch that wrote a line ends with one at 100 %, so that a log never
stops at "98%". The total is exact for every loss (a ``crf`` epoch counts its batches when it draws its
order). ``none`` shows nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..network.losses import Batch

MODES = ("bar", "lines", "none")
EVERY = 10.0  # seconds between two lines


def duration(seconds: float) -> str:
    """``0:54``, ``1:02:03``: hours only when there are some."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Shows the batches of each epoch as ``mode`` says (see the module docstring)."""

    def __init__(
        self,
        mode: str = "bar",
        every: float | None = None,
        write: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: expected one of {', '.join(MODES)}")
        self.mode, self.clock = mode, clock
        self.every = EVERY if every is None else every
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))

    def track(
        self, batches: Iterable[Batch], epoch: int, epochs: int, total: int, done: int = 0
    ) -> Iterator[Batch]:
        """Yield ``batches`` (about ``total`` in the epoch, ``done`` of them already done) and show
        their progress."""
        if self.mode == "bar":
            from tqdm import tqdm  # here, not at the top: every command would pay its import (~30 ms)

            yield from tqdm(
                batches, total=total, initial=done, desc=f"epoch {epoch}", unit="batch", leave=False
            )
            return
        if self.mode == "none":
            yield from batches
            return
        start = last = self.clock()
        count, windows, shown = done, 0, None  # shown: the batch count of the last line written

        def line(now: float) -> str:
            per_batch = (now - start) / (count - done)
            left = per_batch * max(total - count, 0)
            run = left + per_batch * total * (epochs - epoch)
            share, speed = 100 * count / max(total, 1), windows / max(now - start, 1e-9)
            return (
                f"windowner: epoch {epoch}/{epochs}: batch {count:,}/{total:,} ({share:.0f}%),"
                f" {speed:,.0f} windows/s, ETA {duration(left)} (run {duration(run)})"
            )

        for batch in batches:
            yield batch  # the training step runs here
            count += 1
            windows += len(batch.labels)
            now = self.clock()
            if now - last >= self.every:
                last, shown = now, count
                self.write(line(now))
        if shown is not None and shown != count:  # a log that showed the epoch going shows its end too
            self.write(line(self.clock()))
