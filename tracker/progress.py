"""One status line on stderr for long work: count, rate and time left."""

import sys
import time


class Progress:
    def __init__(self, label, total=None, unit="frames", stream=None):
        # sys.stderr is looked up now, not at import: pytest and others swap it.
        self.label, self.total, self.unit, self.stream = label, total, unit, stream or sys.stderr
        self.done, self.start, self.shown = 0, time.time(), 0.0

    def rate(self):
        return self.done / max(time.time() - self.start, 1e-9)

    def update(self, n=1, note=""):
        self.done += n
        now = time.time()
        if now - self.shown < 0.2 and self.done != self.total:
            return  # a terminal redrawn hundreds of times a second slows the work it reports
        self.shown = now
        rate = self.rate()
        if self.total:
            left = (self.total - self.done) / rate if rate > 0 else 0
            count = f"{self.done}/{self.total} {self.unit}, {rate:.1f}/s, ETA {left:.0f}s"
        else:
            count = f"{self.done} {self.unit}, {rate:.1f}/s"
        print(f"\r{self.label}: {count}{note}   ", end="", file=self.stream, flush=True)

    def close(self):
        print(file=self.stream, flush=True)
