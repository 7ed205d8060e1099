"""Mutation testing of one area at a time: `python scripts/mutate.py AREA [mutmut args]`.

`make mutate AREA=storage` runs this. Each area (see AREAS) has its own working directory,
`.mutation/AREA/`, holding symbolic links to the repository's top-level files and mutmut's
`mutants/` tree, so the four areas keep their results side by side and a rerun only tests
what changed.

Why not one `mutmut run` over everything: mutmut first runs the whole test selection once under
its call recording (to learn which tests reach which function), and then runs, for each mutant,
every test that reached the mutated function. With `tests/` as the selection that first pass
takes most of an hour on a busy 2-core machine, and a mutant of a function every pipeline test
calls (`SqlStore.add`, say) reruns hundreds of tests. Naming mutants (`mutmut run NAME*`) does not
help: the names filter only the mutant loop, while the generation and the recording pass still
cover the whole configuration. So each area here is mutated alone and tested by the folders in
AREAS, and the score it reports counts only those tests: a floor, since other folders may
kill more.

The area settings override two fields of mutmut's configuration (read from `[tool.mutmut]` in
pyproject.toml, which holds the rest): `only_mutate` and `pytest_add_cli_args_test_selection`.
mutmut offers no command-line option for them, hence the override before its command line runs.

    python scripts/mutate.py llm                   # run (or resume) the area
    python scripts/mutate.py llm run 'bot.llm.retry*'
    python scripts/mutate.py llm results           # any mutmut command, in the area's directory
    python scripts/mutate.py llm show NAME
    python scripts/mutate.py llm score             # killed / timed out / survived per module

A mutant counts as caught when a test fails ("killed") or when its tests run past mutmut's
limit ("timed out": a hang, caught). "No tests" means no selected test reaches the function;
it counts as not caught. Score = (killed + timed out) / all mutants.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Area:
    """Code to mutate (mutmut globs) and the test folders that count for its score."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]


AREAS = {
    "delivery": Area(mutate=("bot/delivery/*",), tests=("tests/delivery/",)),
    "tools": Area(mutate=("bot/tools/*",), tests=("tests/tools/",)),
    "llm": Area(mutate=("bot/llm/*",), tests=("tests/llm/",)),
    # The privacy, retention, shared-jobs and approval stores are tested where they are used.
    "storage": Area(
        mutate=("storage/*",),
        tests=(
            "tests/storage/",
            "tests/privacy/test_storage.py",
            "tests/privacy/test_retention.py",
            "tests/scheduling/",
            "tests/tools/test_store_contract.py",
        ),
    ),
}

# Top-level entries the mutation directory must not link: mutmut's own output, caches, and
# environments (the venv is found through the interpreter, not the working directory).
NOT_LINKED = {
    ".git",
    ".venv",
    ".mutation",
    "mutants",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}

CAUGHT = ("killed", "timeout")
COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked", "other")


def workdir(area: str) -> Path:
    """`.mutation/AREA/`, with links to every top-level file and folder of the repository."""
    path = ROOT / ".mutation" / area
    path.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        link = path / entry.name
        if entry.name in NOT_LINKED or entry.name.endswith(".egg-info") or link.is_symlink():
            continue
        link.symlink_to(entry)
    return path


def configure(area: Area) -> None:
    from mutmut.configuration import config

    cfg = config()
    cfg.only_mutate = list(area.mutate)
    cfg.pytest_add_cli_args_test_selection = list(area.tests)


def score() -> None:
    """Print killed / timed out / survived per mutated module, and the area's total."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    rows: list[tuple[str, Counter[str]]] = []
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        if not data.exit_code_by_key:
            continue
        counts: Counter[str] = Counter()
        for exit_code in data.exit_code_by_key.values():
            status = status_by_exit_code[exit_code]
            counts[status if status in COLUMNS else "other"] += 1
        rows.append((str(path), counts))
    total: Counter[str] = Counter()
    for _, counts in rows:
        total.update(counts)
    print(
        "| module | mutants | killed | timed out | survived | no tests | not run | other | score |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, counts in [*rows, ("total", total)]:
        n = sum(counts.values())
        caught = sum(counts[c] for c in CAUGHT)
        cells = " | ".join(str(counts[c]) for c in COLUMNS)
        print(
            f"| `{name}` | {n} | {cells} | {100 * caught / n:.0f} % |" if n else f"| {name} | 0 |"
        )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in AREAS:
        print(f"usage: mutate.py {{{','.join(AREAS)}}} [mutmut command ...]", file=sys.stderr)
        return 2
    area, command = argv[0], argv[1:] or ["run"]
    os.chdir(workdir(area))
    configure(AREAS[area])
    if command == ["score"]:
        score()
        return 0
    if command[0] == "run" and not any(a.startswith("--max-children") for a in command):
        command = ["run", "--max-children", os.environ.get("MUTATE_JOBS", "2"), *command[1:]]
    # mutmut's command line is a click group; importing its __main__ also sets the fork start
    # method its workers need.
    from mutmut.__main__ import cli

    return int(cli.main(args=command, prog_name="mutmut", standalone_mode=False) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
