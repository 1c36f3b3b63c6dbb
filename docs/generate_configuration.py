#!/usr/bin/env python
"""Writes ``docs/configuration.md``: every field of the TruDi agent's config sections, and the task families' settings.

    python docs/generate_configuration.py           # rewrite docs/configuration.md
    python docs/generate_configuration.py --check   # exit 1 if the committed file differs from what the code says

Read from the code, so the reference cannot drift from it: each ``@configclass`` of ``agents/trudi_cfg.py`` (field,
default as written, docstring), the range rules of ``trudi_isaac/utils/config_checks.py``, and the families of
``agents/families.py`` with their reasons. A field docstring reads "<what it does>. Default (<whose>): <value and
why>."; ``tests/test_docs.py`` fails when a field lacks that form or the committed file is stale.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from pathlib import Path

from trudi_isaac.agents import families, trudi_cfg
from trudi_isaac.utils import config_checks

DOCS = Path(__file__).resolve().parent
OUTPUT = DOCS / "configuration.md"
DEFAULT_MARK = re.compile(r"Default \((authors'|ours|REPPO's|rsl-rl's|Isaac Lab's)\): ")
"""Where a field docstring turns from what the field does to whose its default is and why."""
NOTES_REFERENCE = re.compile(r'`?benchmarks/NOTES\.md`?, "([^"]+)"')
"""A reference to a lab-notebook section, rendered as a link to it."""
SECTIONS: tuple[tuple[str, str, dict | None, str], ...] = (
    ("TruDiRunnerCfg", "agent", None, "The runner: rsl-rl's `OnPolicyRunner` config with TruDi's sections."),
    ("TruDiAlgorithmCfg", "agent.algorithm", config_checks.ALGORITHM_RULES, "The update (TRUDI.md, \"The update (per minibatch, critic first, then actor)\")."),
    ("DiffusionActorCfg", "agent.actor", config_checks.DIFFUSION_ACTOR_RULES, "TruDi's actor: the denoising chain."),
    ("GaussianActorCfg", "agent.actor", config_checks.GAUSSIAN_ACTOR_RULES, "REPPO's actor: a tanh-Gaussian."),
    ("QCriticCfg", "agent.critic", config_checks.CRITIC_RULES, "The distributional Q critic."),
    ("ModelCfg", "agent.actor, agent.critic", None, "Fields every model section has (Isaac Lab's config migration reads them)."),
    ("ReppoRunnerCfg", "agent", None, "The REPPO agent: what it sets differently from `TruDiRunnerCfg`."),
)  # fmt: skip
"""(class, where Hydra overrides reach it, its range rules, what it is)."""


class FieldDoc:
    """One config field as the source declares it."""

    def __init__(self, name: str, annotation: str, default: str, docstring: str | None) -> None:
        self.name, self.annotation, self.default, self.docstring = name, annotation, default, docstring

    def parts(self) -> tuple[str, str, str]:
        """(what it does, whose default, why); ValueError if the docstring does not have the form."""
        text = " ".join((self.docstring or "").split())
        marks = list(DEFAULT_MARK.finditer(text))
        if len(marks) != 1:
            raise ValueError(f"field '{self.name}': its docstring needs exactly one 'Default (<whose>): ' sentence")
        mark = marks[0]
        return text[: mark.start()].strip(), mark[1], text[mark.end() :].strip()


def class_fields(source: str) -> dict[str, list[FieldDoc]]:
    """Each class of ``source`` → its annotated fields in order, with their default's source and docstring."""
    tree = ast.parse(source)
    classes = {}
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        fields = []
        for i, node in enumerate(cls.body):
            if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
                continue
            after = cls.body[i + 1] if i + 1 < len(cls.body) else None
            is_doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)
            default = ast.get_source_segment(source, node.value) if node.value is not None else "(required)"
            fields.append(FieldDoc(node.target.id, ast.get_source_segment(source, node.annotation), default,
                                   after.value.value if is_doc else None))  # fmt: skip
        classes[cls.name] = fields
    return classes


def anchor(title: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def cell(text: str) -> str:
    """Text for a markdown table cell: NOTES.md references as links, pipes escaped."""
    text = text.replace("|", "\\|")
    return NOTES_REFERENCE.sub(lambda m: f'[{m[1]}](../benchmarks/NOTES.md#{anchor(m[1])})', text)


def section(name: str, where: str, rules: dict | None, what: str, fields: list[FieldDoc]) -> list[str]:
    lines = [f"## `{name}` (`{where}`)", "", what, "",
             "| field | default | allowed | what it does | whose | why this default |", "|---|---|---|---|---|---|"]  # fmt: skip
    for field in fields:
        meaning, whose, why = field.parts()
        allowed = rules[field.name][1] if rules and field.name in rules else "–"
        lines.append(f"| `{field.name}` | `{cell(field.default)}` | {cell(allowed)} | {cell(meaning)} | {whose} | {cell(why)} |")
    return lines + [""]


def families_section() -> list[str]:
    lines = ["## Task families", "",
             "A task's TruDi config is its own rsl-rl PPO runner config (observation groups, steps per env, iterations,",
             "save interval, seed, experiment name + `_trudi`) plus the settings of the first family one of whose words",
             "occurs in its name (`agents/families.py`). `overrides` apply to the TruDi and REPPO agents,",
             "`trudi_overrides` to TruDi's only.", "",
             "| family | words | setting | value | why |", "|---|---|---|---|---|"]  # fmt: skip
    for family in families.FAMILIES:
        settings = ([("gamma", family.gamma)] if family.gamma != 0.99 else []) + list(family.overrides.items())
        settings += [(f"{key} (TruDi)", value) for key, value in family.trudi_overrides.items()]
        words = ", ".join(family.words)
        if not settings:
            lines.append(f"| {family.name} | {words} | – | – | the defaults above |")
        for key, value in settings:
            reason = family.reasons.get(key.removesuffix(" (TruDi)"), "")
            lines.append(f"| {family.name} | {words} | `{key}` | `{value!r}` | {cell(reason)} |")
    return lines + ["", "A task in no family gets no TruDi agent; `scripts/train.py` says so in one line."]


def render() -> str:
    """The whole of ``docs/configuration.md``."""
    fields = class_fields(inspect.getsource(trudi_cfg))
    lines = ["# Configuration reference", "",
             "Generated by `python docs/generate_configuration.py` from `agents/trudi_cfg.py`, the range rules of",
             "`trudi_isaac/utils/config_checks.py` and `agents/families.py`: edit those, then run the script",
             "(`tests/test_docs.py` fails while this file is stale). Every field can be set from the command line as a",
             "Hydra override, e.g. `agent.algorithm.trust_region_eps=0.2`; a value outside its range is refused in",
             "one line naming the field, the value and the range. *whose*: the paper's authors' choice, ours (this",
             "project's, with the experiment that set it), REPPO's recipe, or rsl-rl's / Isaac Lab's convention.",
             "Runner fields not listed (`seed`, `device`, `clip_actions`, `logger`, …) are Isaac Lab's",
             "`RslRlOnPolicyRunnerCfg`'s.", ""]  # fmt: skip
    for name, where, rules, what in SECTIONS:
        lines += section(name, where, rules, what, fields[name])
    return "\n".join(lines + families_section()) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if docs/configuration.md is stale.")
    args = parser.parse_args()
    text = render()
    if args.check:
        stale = not OUTPUT.exists() or OUTPUT.read_text() != text
        print(f"{OUTPUT} is {'stale: run python docs/generate_configuration.py' if stale else 'up to date'}")
        return int(stale)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
