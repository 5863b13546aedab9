"""Rewrites the README's settings table from functions/settings.py (tests/test_docs.py checks they agree)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from functions.settings import markdown_table  # noqa: E402

readme = ROOT / "README.md"
head, rest = readme.read_text().split("<!-- settings-table -->\n")
_, tail = rest.split("<!-- /settings-table -->")
readme.write_text(f"{head}<!-- settings-table -->\n{markdown_table()}\n<!-- /settings-table -->{tail}")
