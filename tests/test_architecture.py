"""The shape of the code, checked on the source: no import cycles, one composition root, one clock, short modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("functions", "jobs")
WIRING = "functions.wiring"
ENTRY_POINTS = {"main", "functions.cli", "functions.local_server"}  # besides tests and benchmarks
CLOCK_ADAPTER = "functions.adapters.system_clock"
MODULE_LINES = 300  # a module longer than this holds more than one job: split it along its seams
TIME_READS = {"time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "sleep"},
              "datetime": {"now", "utcnow", "today"}, "date": {"today"}}


def modules() -> dict[str, Path]:
    found = {"main": ROOT / "main.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function (a lazy import is still one)."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in named if name in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_of_functions_and_jobs_is_acyclic():
    edges = graph()
    assert len(edges) > 40 and "functions.wiring" in edges["main"]  # the graph was really built
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_product_module_is_longer_than_the_limit():
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in lengths.items() if n > MODULE_LINES} == {}
    assert max(lengths.values()) > MODULE_LINES // 2  # the count reads real modules


def test_only_entry_points_import_the_wiring_module():
    importers = {name for name, targets in graph().items() if WIRING in targets}
    assert importers and importers <= ENTRY_POINTS, importers - ENTRY_POINTS


def test_jobs_know_nothing_of_http():
    for name, path in modules().items():
        if name.startswith("jobs"):
            for imported in imports(path, modules()) | _third_party(path):
                assert not imported.startswith(("werkzeug", "flask", "functions.http", "functions.routes")), name


def _third_party(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_reads_the_time_but_the_clock_adapter():
    for name, path in modules().items():
        if name == CLOCK_ADAPTER:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert node.attr not in TIME_READS.get(node.value.id, ()), \
                    f"{name} reads the time ({node.value.id}.{node.attr}); take a Clock instead"
            if isinstance(node, ast.ImportFrom) and node.module == "time":
                assert not {a.name for a in node.names} & TIME_READS["time"], f"{name} imports a time reader"


def test_a_google_process_builds_nothing_of_the_local_backend():
    """The Google backend's app (built as main.py builds it, no client yet) imports no local adapter: no local
    signer, queue or warehouse exists in a deployed process."""
    import json
    import subprocess
    import sys

    env = {"DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "s", "BIGQUERY_PROJECT": "my-project", "BIGQUERY_DATASET": "d",
           "BIGQUERY_EXPORT_BUCKET": "my-exports", "BIGQUERY_CREDENTIALS": "anonymous",
           "BIGQUERY_API_ENDPOINT": "http://127.0.0.1:9", "STORAGE_API_ENDPOINT": "http://127.0.0.1:9"}
    script = ("import json, sys; from functions.wiring import build_app; app = build_app(" + repr(env) + "); "
              "print(json.dumps({'local': sorted(m for m in sys.modules if m.startswith('functions.adapters.local')),"
              " 'in_process': app.backend.in_process is not None, 'objects': app.doors.objects is not None}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"local": [], "in_process": False, "objects": False}
