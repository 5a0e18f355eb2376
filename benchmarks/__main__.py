"""Run every benchmark module and report ratios: ``python -m benchmarks [name ...]``."""

import datetime
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(selected):
    results = []
    for path in sorted(HERE.glob("bench_*.py")):
        if selected and not any(word in path.stem for word in selected):
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        print(f"== {path.stem}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        for row in module.run():
            print(row.line(), flush=True)
            results.append({"module": path.stem, **row.as_dict()})
    folder = HERE / "results"
    folder.mkdir(exist_ok=True)
    out = folder / f"{datetime.datetime.now():%Y-%m-%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
