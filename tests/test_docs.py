"""The README's settings table and the declared settings must name the same variables, with the same defaults."""

import re
from pathlib import Path

from functions.settings import all_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_table() -> dict[str, str]:
    text = README.read_text()
    table = text.split("<!-- settings-table -->")[1].split("<!-- /settings-table -->")[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (`[^`]*`)? ?\|", table, flags=re.M)
    return {name: default.strip("`") for name, default in rows}


def test_every_setting_is_documented_with_its_default():
    documented = readme_table()
    declared = {s.name: s.default for s in all_settings()}
    assert set(declared) - set(documented) == set(), "settings missing from README"
    assert set(documented) - set(declared) == set(), "README documents settings the code does not read"
    assert documented == declared


def test_readme_gives_the_two_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
