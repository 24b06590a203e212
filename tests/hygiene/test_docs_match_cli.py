"""The documentation against the code: exit codes, commands and options.

The commands and options are read from the live typer app (`typer.main.get_command`), so
a command or an option added or removed anywhere is checked without editing this file.
A failure names the doc file and line, and the command or option that does not exist.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import typer.main

from incidentscope import errors
from incidentscope.cli import app
from incidentscope.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

# Options of other programs that the docs show (Spark's spark-submit and
# PYSPARK_SUBMIT_ARGS in docs/spark.md). The project's own scripts under bench/ and tools/
# are read from their argparse calls instead.
FOREIGN_OPTIONS = {
    "--archives": "spark-submit", "--conf": "spark-submit", "--driver-memory": "spark-submit",
    "--executor-cores": "spark-submit", "--executor-memory": "spark-submit",
    "--master": "spark-submit", "--num-executors": "spark-submit",
}

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_SHORT_OPTION = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")


# --- the live command line ---------------------------------------------------------------

@dataclass(frozen=True)
class Cli:
    root_options: frozenset[str]  # before the command (--debug, --help)
    commands: dict[str, frozenset[str]]  # command -> its options, --help included


@cache
def cli_model() -> Cli:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)

    def options(command: Any) -> frozenset[str]:  # a click Command (vendored by typer)
        names = {"--help"}
        for param in command.params:
            if param.param_type_name == "option":
                names.update(param.opts)
                names.update(param.secondary_opts)
        return frozenset(names)

    return Cli(options(group), {name: options(command)
                                for name, command in group.commands.items()})


@cache
def script_options() -> frozenset[str]:
    """The options of the project's scripts (bench/*.py, tools/*.py), from add_argument."""
    found: set[str] = set()
    for path in (*sorted((ROOT / "bench").glob("*.py")), *sorted((ROOT / "tools").glob("*.py"))):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"):
                found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant)
                             and isinstance(arg.value, str) and arg.value.startswith("-"))
    return frozenset(found)


# --- command lines in the docs -----------------------------------------------------------

@dataclass(frozen=True)
class Invocation:
    where: str  # file:line
    text: str  # the command line as written
    command: str | None  # None: only root options, or no command word
    options: tuple[str, ...]


# `incidentscope` where a shell would run it: at the start, after a prompt, a pipe, `;`,
# `&&`, or as `python -m incidentscope`.
# Each runs up to a pipe, `;`, `&&`, a comment or the end.
_INVOKE = re.compile(r"(?:^|\$ |\| |; |&& |python3? -m )incidentscope\s+"
                     r"(?P<rest>.*?)(?= \| |;|&&| #|\)|$)")


def _texts(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every code-block line (continuations joined) and inline code span."""
    lines = path.read_text("utf-8").splitlines()
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        start = i + 1
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        elif in_fence:
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i].strip()
            yield start, line.strip()
        else:
            for span in re.findall(r"`([^`]+)`", line):
                yield start, span.strip()
        i += 1


def invocations(path: Path) -> Iterator[Invocation]:
    commands = cli_model().commands
    rel = path.relative_to(ROOT)
    for line, text in _texts(path):
        rests = [match.group("rest") for match in _INVOKE.finditer(text)]
        if not rests and text.split(" ", 1)[0] in commands and _OPTION.search(text):
            rests.append(text)  # `run --engine spark`: a command of this tool with options
        for rest in rests:
            words = [t for t in rest.split() if not t.startswith("-")]
            command = words[0] if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) else None
            options = tuple(m.group(0) for m in (*_OPTION.finditer(rest),
                                                 *_SHORT_OPTION.finditer(rest)))
            yield Invocation(f"{rel}:{line}", rest, command, options)


def test_docs_show_command_lines() -> None:
    """The scanner finds the command lines (a scanner that found none would pass)."""
    found = [inv for path in DOCS for inv in invocations(path)]
    assert len(found) > 40
    assert any(inv.command == "lookup" and "--phone" in inv.options for inv in found)


def test_every_documented_command_and_option_exists() -> None:
    model = cli_model()
    problems = []
    for path in DOCS:
        for inv in invocations(path):
            if inv.command is None:
                continue
            if inv.command not in model.commands:
                problems.append(f"{inv.where}: no command `{inv.command}` "
                                f"(in `incidentscope {inv.text}`)")
                continue
            head = inv.text.split(inv.command, 1)[0]  # options before the command: root's
            for option in inv.options:
                allowed = model.root_options if option in head.split() else \
                    model.commands[inv.command]
                if option not in allowed:
                    problems.append(f"{inv.where}: `{inv.command}` has no option {option} "
                                    f"(in `incidentscope {inv.text}`)")
    assert not problems, "documented command lines that the CLI does not accept " \
        "(`incidentscope CMD --help`):\n" + "\n".join(problems)


# --- options mentioned anywhere ----------------------------------------------------------

def _mentioned_options() -> Iterator[tuple[str, str]]:
    sources = (*DOCS, *sorted((ROOT / "src" / "incidentscope").rglob("*.py")))
    for path in sources:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for match in _OPTION.finditer(line):
                yield match.group(0), f"{path.relative_to(ROOT)}:{number}"


def test_no_doc_or_source_mentions_an_option_that_does_not_exist() -> None:
    model = cli_model()
    known = set(model.root_options).union(*model.commands.values(), script_options(),
                                          FOREIGN_OPTIONS)
    unknown = [f"{where}: {option}" for option, where in _mentioned_options()
               if option not in known]
    assert not unknown, "options that no command (nor bench/ or tools/ script) has:\n" + \
        "\n".join(unknown)


# --- exit codes --------------------------------------------------------------------------

def _exit_code_rows() -> Iterator[tuple[tuple[int, ...], str, str]]:
    """(codes, name, file:line) of each row of the table in docs/exit-codes.md."""
    path = ROOT / "docs" / "exit-codes.md"
    in_table = False
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["code", "name"]:
            in_table = True
        elif in_table and line.startswith("|") and not set(cells[0]) <= set("-: "):
            yield (tuple(int(c) for c in cells[0].split(",")), cells[1],
                   f"docs/exit-codes.md:{number}")
        elif in_table and not line.startswith("|"):
            return


def signal_codes() -> set[int]:
    """The codes of the signals that stop a command like Ctrl-C, other than Ctrl-C's own."""
    return {128 + int(s) for s in errors.STOP_SIGNALS} - {int(ExitCode.INTERRUPTED)}


def test_the_exit_code_table_lists_exactly_the_exit_codes() -> None:
    """Every ExitCode under its name; the row `(signals)` holds 128 + each stop signal."""
    documented: dict[int, str] = {}
    problems = []
    for codes, name, where in _exit_code_rows():
        for code in codes:
            if code in documented:
                problems.append(f"{where}: code {code} listed twice")
            documented[code] = name
        if name == "(signals)":
            if set(codes) != signal_codes():
                problems.append(f"{where}: the signal codes are {sorted(signal_codes())} "
                                f"(128 + errors.STOP_SIGNALS), not {list(codes)}")
        elif name not in ExitCode.__members__:
            problems.append(f"{where}: {name} is no ExitCode")
        elif codes != (ExitCode[name].value,):
            problems.append(f"{where}: {name} is {ExitCode[name].value}, not {list(codes)}")
    for member in ExitCode:
        if member.value not in documented:
            problems.append(f"docs/exit-codes.md: ExitCode.{member.name} ({member.value}) "
                            "is not in the table")
    if not signal_codes() <= set(documented):
        problems.append(f"docs/exit-codes.md: no row `{', '.join(map(str, sorted(signal_codes())))}"
                        " | (signals)` for the stop signals (128 + errors.STOP_SIGNALS)")
    assert not problems, "\n".join(problems)


def test_every_exit_code_the_docs_name_is_in_the_table() -> None:
    codes = {int(c) for c in ExitCode} | signal_codes()
    wrong = []
    for path in DOCS:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for match in re.finditer(r"\bexit(?:s| code| with)? (\d+)\b", line):
                if int(match.group(1)) not in codes:
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: exit {match.group(1)}")
    assert not wrong, "exit codes not in docs/exit-codes.md:\n" + "\n".join(wrong)
