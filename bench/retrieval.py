"""Retrieval benchmark: the engine against a plain BM25 baseline, on the same questions, same run.

Run: .venv/bin/python -m bench.retrieval [--repeat N] [--no-write]
Prints accuracy and per-question latency (p50/p99) of both, and their ratios; updates the
"## Retrieval" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bench.bm25 import Bm25Baseline
from knowledge.answer import Reply, answer_question, article_reply, no_answer_reply, to_plain
from knowledge.loader import load_knowledge
from knowledge.model import KnowledgeBase
from knowledge.text import has_kazakh_letters

REPO_ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = Path(__file__).resolve().parents[2] / "shared/eval/questions.yaml"
EXTRA_FILE = REPO_ROOT / "tests/fixtures/questions_extra.yaml"
BENCHMARKS_FILE = REPO_ROOT / "BENCHMARKS.md"
SECTION = "## Retrieval"
# Fixed "today" so computed MCI answers do not depend on the clock.
TODAY = date(2026, 11, 22)

_SPACES = re.compile(r"[\u00a0\u202f\u2009\u2007]")
_THOUSANDS = re.compile(r"(?<=\d)[ ,](?=\d{3}(?!\d))")


def eval_file() -> Path:
    """The public eval set (JIYN_EVAL_FILE overrides the default ../shared location)."""
    return Path(os.environ.get("JIYN_EVAL_FILE") or EVAL_FILE)


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of an eval YAML file."""
    return list(yaml.safe_load(path.read_text(encoding="utf-8")) or [])


def normalize_for_match(text: str) -> str:
    """The eval file's normalisation: lower case, ё→е, odd spaces → space, no thousands marks."""
    text = _SPACES.sub(" ", text.lower().replace("ё", "е"))
    previous = None
    while previous != text:
        previous, text = text, _THOUSANDS.sub("", text)
    return text


def reply_text(reply: Reply) -> str:
    """What the expectations are matched against: the plain reply plus its button labels."""
    labels = [button.label for row in reply.buttons for button in row]
    return normalize_for_match("\n".join([to_plain(reply), *labels]))


def case_failure(case: dict[str, Any], reply: Reply) -> str | None:
    """Why a reply fails a case, or None when it passes."""
    wanted_language = case.get("reply_lang", "any")
    if wanted_language != "any" and reply.language != wanted_language:
        return f"reply in {reply.language}, wanted {wanted_language}"
    if "topic" in case:
        if case["topic"] is None:
            return None if reply.kind == "no_answer" else f"answered {reply.topic}, wanted none"
        if reply.topic != case["topic"]:
            return f"topic {reply.topic}, wanted {case['topic']}"
    elif reply.kind == "no_answer":
        return "no answer"
    text = reply_text(reply)
    for group in case.get("expect") or []:
        if not any(re.search(pattern, text) for pattern in group):
            return f"no match for {group}"
    return None


@dataclass
class RunResult:
    """Accuracy and latencies of one system over the question set."""

    name: str
    passed: int
    total: int
    latencies_ms: list[float]
    failures: list[tuple[str, str]]

    @property
    def accuracy(self) -> float:
        """Share of cases passed."""
        return self.passed / self.total if self.total else 0.0

    def percentile(self, share: float) -> float:
        """Latency at a percentile (0–1), in milliseconds."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def guess_language(question: str) -> str:
    """The baseline's language guess: by script only."""
    if has_kazakh_letters(question):
        return "kk"
    return "ru" if re.search(r"[а-яА-Я]", question) else "en"


def baseline_reply(kb: KnowledgeBase, baseline: Bm25Baseline, question: str) -> Reply:
    """The baseline's answer: its top article composed like the engine's, or no answer."""
    language = guess_language(question)
    article_id = baseline.answer(question)
    reply = article_reply(kb, article_id, language) if article_id else None
    return reply or no_answer_reply(language)


def tune_threshold(kb: KnowledgeBase, cases: list[dict[str, Any]]) -> float:
    """The baseline threshold with the best accuracy on these cases (its best fair chance)."""
    baseline = Bm25Baseline(kb)
    candidates = sorted({0.0, *(hit.score for c in cases if (hit := baseline.best(c["q"])))})
    best_threshold, best_passed = 0.0, -1
    for threshold in candidates:
        baseline.threshold = threshold
        passed = sum(
            case_failure(case, baseline_reply(kb, baseline, case["q"])) is None for case in cases
        )
        if passed > best_passed:
            best_threshold, best_passed = threshold, passed
    return best_threshold


def run(
    name: str, cases: list[dict[str, Any]], answer: Callable[[str], Reply], repeat: int
) -> RunResult:
    """Answer every case `repeat` times; keep each question's median time and the verdicts."""
    passed = 0
    latencies = []
    failures = []
    for case in cases:
        timings = []
        reply = None
        for _ in range(repeat):
            start = time.perf_counter()
            reply = answer(case["q"])
            timings.append((time.perf_counter() - start) * 1000)
        assert reply is not None
        latencies.append(statistics.median(timings))
        failure = case_failure(case, reply)
        if failure is None:
            passed += 1
        else:
            failures.append((case["q"], failure))
    return RunResult(name, passed, len(cases), latencies, failures)


def machine() -> str:
    """Platform, CPU count and Python version of this run."""
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def report(results: list[RunResult], counts: dict[str, int], today: date, setup: str) -> str:
    """The Markdown section for BENCHMARKS.md."""
    engine, baseline = results
    lines = [
        SECTION,
        "",
        f"Run `.venv/bin/python -m bench.retrieval` on {today.isoformat()}; {machine()}.",
        "",
        f"Questions: {counts['eval']} from the public eval set + {counts['extra']} from "
        "tests/fixtures/questions_extra.yaml; a case passes when the reply language, the "
        "expectations (or the expected topic / no answer) all match, as in tests/test_eval.py. "
        "Latency is per question, end to end (analysis, search, composing the HTML reply), the "
        f"median of repeated runs, index already built. {setup} Both question sets were used "
        "while developing the engine, so its accuracy here is optimistic; it is also measured "
        "on unpublished questions.",
        "",
        "| System | Accuracy | p50 latency | p99 latency |",
        "|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.passed}/{result.total} ({result.accuracy:.0%}) | "
            f"{result.percentile(0.5):.2f} ms | {result.percentile(0.99):.2f} ms |"
        )
    ratio_accuracy = engine.accuracy / baseline.accuracy if baseline.accuracy else float("inf")
    ratio_p50 = engine.percentile(0.5) / max(baseline.percentile(0.5), 1e-9)
    ratio_p99 = engine.percentile(0.99) / max(baseline.percentile(0.99), 1e-9)
    lines += [
        "",
        f"Engine / baseline: accuracy × {ratio_accuracy:.2f}, p50 latency × {ratio_p50:.1f}, "
        f"p99 latency × {ratio_p99:.1f}. Target: p99 < 5 ms per question.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str, path: Path = BENCHMARKS_FILE) -> None:
    """Replace (or append) the "## Retrieval" section of BENCHMARKS.md, leaving the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run both systems, print the comparison, update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per question (median kept)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    kb = load_knowledge()  # parses, validates and builds the index (cold caches)
    build_ms = (time.perf_counter() - start) * 1000
    eval_cases = load_cases(eval_file())
    extra_cases = load_cases(EXTRA_FILE) if EXTRA_FILE.exists() else []
    cases = eval_cases + extra_cases
    threshold = tune_threshold(kb, cases)
    baseline = Bm25Baseline(kb, threshold)
    for case in cases:  # warm up caches of both before timing
        answer_question(kb, case["q"], today=TODAY)
        baseline_reply(kb, baseline, case["q"])
    results = [
        run("Engine", cases, lambda q: answer_question(kb, q, today=TODAY), args.repeat),
        run("BM25 baseline", cases, lambda q: baseline_reply(kb, baseline, q), args.repeat),
    ]
    setup = (
        f"Loading the content and building the index: {build_ms:.0f} ms for "
        f"{len(kb.articles)} articles. Baseline threshold "
        f"{threshold:.2f}, tuned for the baseline's best accuracy on these same questions."
    )
    section = report(results, {"eval": len(eval_cases), "extra": len(extra_cases)}, date.today(),
                     setup)  # fmt: skip
    print(section)
    for result in results:
        for question, failure in result.failures:
            print(f"[{result.name}] FAIL {question!r}: {failure}")
    if not args.no_write:
        write_section(section)
        print(f"updated {BENCHMARKS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
