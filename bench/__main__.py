"""Run every benchmark present in bench/: `python -m bench [--no-write] [--only NAME ...]`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import bench

# Modules of bench/ that help the benchmarks but are not benchmarks themselves.
HELPERS = frozenset({"__main__", "common", "bm25"})
# Fast ones first; the rest in name order.
PREFERRED_ORDER = ("retrieval", "intake", "answers", "startup")


def benchmark_names() -> list[str]:
    """The benchmark modules present, in running order."""
    found = [
        module.name
        for module in pkgutil.iter_modules([str(Path(bench.__file__).parent)])
        if not module.ispkg and module.name not in HELPERS
    ]
    rank = {name: index for index, name in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(rank)), name))


def benchmark_entry(name: str) -> Callable[[list[str]], int] | None:
    """The module's main(argv), or None when the module is not a benchmark."""
    module = importlib.import_module(f"bench.{name}")
    entry = getattr(module, "main", None)
    return entry if callable(entry) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run each benchmark in turn; non-zero exit if any failed."""
    parser = argparse.ArgumentParser(description="Run every benchmark in bench/.")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    args = parser.parse_args(argv)
    names = benchmark_names()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names)})")
        names = [name for name in names if name in args.only]
    failed = []
    for name in names:
        entry = benchmark_entry(name)
        if entry is None:
            continue
        print(f"=== bench.{name}", flush=True)
        started = time.monotonic()
        try:
            status = entry(["--no-write"] if args.no_write else [])
        except Exception as error:  # one broken benchmark must not hide the others' results
            print(f"bench.{name} failed: {error.__class__.__name__}: {error}", file=sys.stderr)
            status = 1
        print(f"=== bench.{name}: exit {status}, {time.monotonic() - started:.0f} s", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
