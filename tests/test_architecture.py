"""The direction of dependencies (README, "Architecture"), read from the imports of every module:

    wiring (bot.app, bot.cli, ...) → handlers → Telegram layer (bot.telegram) → services → core
                                                                       knowledge → core

A module may import only its own layer and the layers this table allows; the journeys of the
handlers and of the services depend on each other only along the allowed edges, without cycles;
nothing below the Telegram layer imports python-telegram-bot; no bench or test module imports a
test module other than the shared support package (tests/support). Every import counts: at the
top, inside a function, or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "knowledge", "bench", "tests")
FIRST_PARTY = set(PACKAGES)

# The first matching prefix wins (longest prefixes first).
LAYERS: tuple[tuple[str, str], ...] = (
    ("bot.localapi.console", "wiring"),
    ("bot.localapi", "localapi"),
    ("bot.core", "core"),
    ("bot.services", "services"),
    ("bot.telegram", "telegram"),
    ("bot", "wiring"),  # bot/__init__ (the version only), app, cli, serve, runner, leader, health
    ("handlers", "handlers"),
    ("knowledge", "knowledge"),
    ("bench", "bench"),
    ("tests.support", "test-support"),
    ("tests", "tests"),
)
CORE_ONLY = {"core"}
ALLOWED: dict[str, set[str]] = {
    "core": CORE_ONLY,
    "knowledge": CORE_ONLY | {"knowledge"},
    "services": CORE_ONLY | {"services"},
    "telegram": CORE_ONLY | {"telegram", "services", "knowledge"},
    "handlers": CORE_ONLY | {"handlers", "telegram", "services", "knowledge"},
    # The local Bot API server parses Telegram HTML like Telegram does (bot.telegram.html).
    "localapi": CORE_ONLY | {"localapi", "telegram"},
    "wiring": {"core", "knowledge", "services", "telegram", "handlers", "localapi", "wiring"},
    "test-support": {
        "core", "knowledge", "services", "telegram", "handlers", "localapi", "wiring",
        "test-support",
    },
    "bench": {
        "core", "knowledge", "services", "telegram", "handlers", "localapi", "wiring", "bench",
        "test-support",
    },
    "tests": {
        "core", "knowledge", "services", "telegram", "handlers", "localapi", "wiring", "bench",
        "test-support",
    },
}
# Layers that must not import python-telegram-bot (package `telegram`).
WITHOUT_PTB = {"core", "knowledge", "services"}

# Journeys inside the handlers and the services, and which of them each may import: the shared
# parts (common, the menu) and, for a report, the ask journey's rights answers it shows.
JOURNEY_EDGES: dict[str, set[str]] = {
    "handlers.common": set(),
    "handlers.ask": {"handlers.common"},
    "handlers.report": {"handlers.common", "handlers.ask"},
    "handlers.menu": {"handlers.common", "handlers.ask", "handlers.report"},
    "handlers.review": {"handlers.common", "handlers.menu"},
    "bot.services": set(),  # the shared services: users, keys, error summaries
    "bot.services.ask": {"bot.services"},
    "bot.services.report": {"bot.services"},
    "bot.services.review": {"bot.services"},
}


def layer_of(module: str) -> str | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def journey_of(module: str) -> str | None:
    best = None
    for journey in JOURNEY_EDGES:
        if (module == journey or module.startswith(journey + ".")) and (
            best is None or len(journey) > len(best)
        ):
            best = journey
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "content" in path.relative_to(ROOT).parts:
                continue
            yield module_name(path), path


def imports_of(module: str, source: str) -> Iterator[tuple[str, int]]:
    """Every module this source imports (`from a import b` yields a.b too, since b may be a
    module), with its line."""
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def violations(graph: Iterable[tuple[str, str, int]]) -> list[str]:
    """The forbidden edges of an import graph (importer, imported, line)."""
    found = []
    for importer, imported, line in graph:
        top = imported.split(".")[0]
        source_layer = layer_of(importer)
        if source_layer is None:
            continue
        if top == "telegram" and source_layer in WITHOUT_PTB:
            found.append(f"{importer}:{line} imports python-telegram-bot ({imported})")
            continue
        if top not in FIRST_PARTY:
            continue
        target_layer = layer_of(imported)
        if target_layer is None:
            continue
        if target_layer not in ALLOWED[source_layer]:
            found.append(f"{importer}:{line} ({source_layer}) imports {imported} ({target_layer})")
            continue
        if target_layer == "tests" and source_layer != "tests":
            found.append(f"{importer}:{line} imports the test module {imported}")
        if source_layer == "tests" and target_layer == "tests" and imported != "tests":
            found.append(f"{importer}:{line} imports another test module ({imported})")
        source_journey, target_journey = journey_of(importer), journey_of(imported)
        if (
            source_layer == target_layer
            and source_journey is not None
            and target_journey is not None
            and source_journey != target_journey
            and target_journey not in JOURNEY_EDGES[source_journey]
        ):
            found.append(f"{importer}:{line} ({source_journey}) imports {imported}")
    return found


def import_graph() -> list[tuple[str, str, int]]:
    known = {name for name, _ in modules()}
    graph = []
    for name, path in modules():
        for imported, line in imports_of(name, path.read_text(encoding="utf-8")):
            if imported.split(".")[0] in FIRST_PARTY and imported not in known:
                continue  # `from bot.core.db import SessionFactory`: the name, not a module
            graph.append((name, imported, line))
    return graph


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_has_a_layer() -> None:
    assert [name for name, _ in modules() if layer_of(name) is None] == []


def test_imports_follow_the_direction_of_dependencies() -> None:
    assert violations(import_graph()) == []


def test_no_cycles_between_layers_or_journeys() -> None:
    layers: dict[str, set[str]] = {}
    journeys: dict[str, set[str]] = {}
    for importer, imported, _ in import_graph():
        a, b = layer_of(importer), layer_of(imported)
        if a and b and a != b:
            layers.setdefault(a, set()).add(b)
        ja, jb = journey_of(importer), journey_of(imported)
        if ja and jb and ja != jb and a == b:
            journeys.setdefault(ja, set()).add(jb)
    assert cycle(layers) is None
    assert cycle(journeys) is None


def test_the_allowed_journey_edges_have_no_cycle() -> None:
    assert cycle(JOURNEY_EDGES) is None


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("bot.core.i18n", "bot.services.users"),  # core above its layer
        ("bot.services.report.reports", "bot.telegram.context"),  # a service on PTB glue
        ("bot.services.review.access", "telegram"),  # a service importing PTB
        ("knowledge.answer", "bot.telegram.html"),  # knowledge beyond the core
        ("handlers.review.team", "bot.app"),  # the old cycle: handlers on the wiring
        ("bot.telegram.context", "handlers.common.start"),  # glue on the handlers
        ("handlers.ask.venues", "handlers.report.conversation"),  # journeys sideways
        ("handlers.common.start", "handlers.review.cards"),
        ("bot.services.review.notify", "bot.services.report.reports"),
        ("bench.intake", "tests.test_report_e2e"),  # bench on a test module
        ("tests.test_review_jobs", "tests.test_review_support"),  # a test on another test
    ],
)
def test_a_forbidden_import_is_detected(importer: str, imported: str) -> None:
    assert violations([(importer, imported, 1)]), f"{importer} → {imported} was not caught"


def test_the_shared_support_and_allowed_edges_pass() -> None:
    assert (
        violations(
            [
                ("handlers.report.conversation", "handlers.ask.rights", 1),
                ("handlers.review.team", "handlers.menu", 1),
                ("bot.telegram.context", "bot.services.review.workflow", 1),
                ("knowledge.answer", "bot.core.i18n", 1),
                ("tests.test_review_jobs", "tests.support.review", 1),
                ("bench.intake", "tests.support.harness", 1),
            ]
        )
        == []
    )


def test_a_cycle_is_detected() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_report_state_diagram_names_every_state() -> None:
    """handlers/report/README.md draws the report conversation: every state the handler has is
    in the diagram, and the diagram names no state that does not exist."""
    import re

    from handlers.report.conversation import ReportStep, report_conversation

    text = (ROOT / "handlers" / "report" / "README.md").read_text(encoding="utf-8")
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    drawn = set(re.findall(r"\b([A-Z][A-Z_]+)\b", diagram)) - {"URGENT"}
    states = {ReportStep(state).name for state in report_conversation().states}
    assert states <= drawn
    assert drawn <= {step.name for step in ReportStep}


def test_every_service_is_a_component_held_on_services() -> None:
    """One service style: the services on Services have initialize/shutdown (Component), and
    handlers reach the database only through them, never with the session factory or the
    cipher in hand."""
    import typing

    from bot.services.component import Component
    from bot.telegram.context import Services

    hints = typing.get_type_hints(Services)
    services = {
        name: hint
        for name, hint in hints.items()
        for kind in typing.get_args(hint) or (hint,)
        if isinstance(kind, type) and kind.__module__.startswith("bot.services")
    }
    assert {"users", "access", "feedback", "gaps", "reports", "review", "exports", "stats"} <= set(
        services
    )
    for name, hint in services.items():
        kinds = [k for k in typing.get_args(hint) or (hint,) if k is not type(None)]
        assert all(issubclass(k, Component) for k in kinds), name
    passing_around = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "handlers").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "services.sessions" in line or "services.cipher" in line
    ]
    assert passing_around == []


def test_every_state_of_the_report_conversation_has_its_question() -> None:
    from handlers.report.conversation import report_conversation
    from handlers.report.prompts import PROMPTS
    from handlers.report.steps import ReportStep

    assert set(PROMPTS) == {ReportStep(state) for state in report_conversation().states}


def test_the_core_and_knowledge_import_without_the_rest_of_the_bot() -> None:
    """Importing knowledge and the whole core loads nothing of the bot outside bot.core and
    nothing of python-telegram-bot (no side effects of bot/__init__)."""
    import subprocess
    import sys

    core = sorted(name for name, _ in modules() if layer_of(name) == "core")
    code = (
        "import importlib, sys\n"
        f"for name in {['knowledge', *core]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = [
        name
        for name in loaded
        if name.split(".")[0] in ("handlers", "telegram")
        or (name.startswith("bot.") and not name.startswith("bot.core"))
    ]
    assert outside == []
