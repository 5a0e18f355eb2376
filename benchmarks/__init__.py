"""Speed measurements, as ratios against a baseline timed in the same process.

``make bench`` (``python -m benchmarks``) runs every ``benchmarks/bench_*.py``;
each module's ``run()`` returns rows of :class:`benchmarks.timing.Comparison`.
Results are printed and written to ``benchmarks/results/<date>.json`` (not committed).
"""
