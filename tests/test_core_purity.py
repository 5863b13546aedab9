"""The core does no I/O and imports no SDK: checked on the source itself."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "functions" / "core"
ALLOWED = {"__future__", "base64", "dataclasses", "datetime", "enum", "hashlib", "hmac", "json", "re", "typing",
           "functions"}
ALLOWED_MODULES = {"urllib.parse"}  # string handling only (urllib.request would be I/O)
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval"}


def _modules():
    return sorted(CORE.glob("*.py"))


def test_core_imports_only_the_standard_library_pure_parts():
    assert _modules(), "no core modules found"
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED or name in ALLOWED_MODULES, f"{path.name} imports {name}"
                if top == "functions":
                    assert name.startswith("functions.core"), f"{path.name} imports {name} from outside the core"


def test_core_makes_no_io_calls():
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
