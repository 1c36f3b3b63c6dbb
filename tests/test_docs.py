"""The documentation stays true to the code: the config reference is current, every documented script runs, and the
product speaks of itself only (no work-tracking words)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "docs"))
import generate_configuration  # noqa: E402

DOCUMENTED = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")), "benchmarks/NOTES.md"]
"""The pages whose commands a reader copies."""
SCRIPT_PATH = re.compile(r"\b((?:benchmarks|scripts|docs)/[\w/]+\.(?:py|sh))\b")
"""A path to one of the project's scripts or modules, as the pages name them."""
COMMAND = re.compile(r"(?:python|bash) ((?:benchmarks|scripts|docs)/[\w/]+\.(?:py|sh))\b")
"""A page's command line that runs one of them (``python …``, ``.venv/bin/python …``, ``bash …``)."""
HISTORY_WORDS = re.compile(r"\b[Ss]essions? \d+|\b[Ii]ssues? \d+\b|\bH(?:[1-9]|1\d)\b|\b[Dd]eliverables? \d+")
"""Work-tracking words: a work period or tracker entry named by its number, a hypothesis label (H and a number up
to 19), a numbered deliverable."""
NOT_PROSE = (".json", ".jsonl", ".png", ".usd", ".usda", ".pt")
HELP_TIMEOUT_S = 120


def test_configuration_reference_is_current() -> None:
    """``docs/configuration.md`` is what ``docs/generate_configuration.py`` writes from the code now (which also
    fails on a config field without a ``Default (<whose>): …`` docstring)."""
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == generate_configuration.render(), "stale: run python docs/generate_configuration.py"


def test_every_config_field_appears_in_the_reference() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    fields = generate_configuration.class_fields((REPO / "agents" / "trudi_cfg.py").read_text())
    for cls, _, _, _ in generate_configuration.SECTIONS:
        heading = text.index(f"## `{cls}`")
        section = text[heading : text.find("\n## ", heading + 1)]
        for field in fields[cls]:
            assert f"| `{field.name}` |" in section, (cls, field.name)


def _documented(pattern: re.Pattern) -> list[str]:
    return sorted({m[1] for page in DOCUMENTED for m in pattern.finditer((REPO / page).read_text())})


@pytest.mark.parametrize("path", _documented(SCRIPT_PATH))
def test_documented_file_exists(path: str) -> None:
    assert (REPO / path).is_file(), f"{path} is named in the docs but does not exist"


@pytest.mark.parametrize("script", [s for s in _documented(COMMAND) if not s.startswith("scripts/setup")])
def test_documented_command_runs(script: str) -> None:
    """Each script a page runs (``python <script> …``) answers ``--help``; ``bash <script>`` only needs to exist (the
    GPU check runs at once)."""
    if script.endswith(".sh"):
        assert (REPO / script).is_file(), script
        return
    result = subprocess.run([sys.executable, str(REPO / script), "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=HELP_TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0 and "usage:" in result.stdout, (script, result.stderr[-2000:])


def test_no_work_tracking_words_in_tracked_text() -> None:
    """No numbered work periods, tracker entries or hypothesis labels in the product: code, configs, docs, notes,
    generated results (data files and this test excepted)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in tracked:
        path = REPO / name
        if name == "tests/test_docs.py" or path.suffix in NOT_PROSE or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [f"{name}:{n}: {line.strip()[:120]}" for n, line in enumerate(text.splitlines(), 1) if HISTORY_WORDS.search(line)]
    assert not found, "\n".join(found[:20])
