"""Timing helpers: best of several runs, and a comparison row."""

import time
from dataclasses import asdict, dataclass


def best_time(function, repeat=5, number=1):
    """Best wall-clock seconds per call over ``repeat`` rounds of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


@dataclass
class Comparison:
    """One benchmark: a candidate against its baseline, timed in the same process."""

    name: str
    baseline: str
    candidate: str
    baseline_seconds: float
    candidate_seconds: float
    notes: str = ""

    @property
    def ratio(self):
        """How many times faster the candidate is."""
        return self.baseline_seconds / self.candidate_seconds

    def as_dict(self):
        return {**asdict(self), "ratio": self.ratio}

    def line(self):
        return (
            f"{self.name:<38} {self.baseline:<34} {self.baseline_seconds:>10.4f} s  "
            f"{self.candidate:<30} {self.candidate_seconds:>10.4f} s  ×{self.ratio:>8.1f}  {self.notes}"
        )
