"""Plain text, Markdown and JSON views of `incidentscope diff` (diff.RunDiff)."""

from __future__ import annotations

import dataclasses
from typing import Any

from incidentscope.diff import RunDiff


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def to_json(result: RunDiff) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data["figures"] = [{**row, "changed": row["a"] != row["b"]} for row in data["figures"]]
    return data


def _head(result: RunDiff) -> list[str]:
    a, b = result.a, result.b
    lines = [f"A: run {a.run_id} started {a.started_at} ({a.manifest_path})",
             f"B: run {b.run_id} started {b.started_at} ({b.manifest_path})"]
    lines.append("tool: " + ("; ".join(f"{c.key} {_cell(c.a)} -> {_cell(c.b)}"
                                       for c in result.tool) or "unchanged"))
    lines.append("incident file: " + ("; ".join(f"{c.key} {_cell(c.a)} -> {_cell(c.b)}"
                                                for c in result.incident) or "unchanged"))
    counts = {change: sum(1 for i in result.inputs if i.change == change)
              for change in ("added", "removed", "changed")}
    lines.append(f"inputs: {counts['added']:,} added, {counts['removed']:,} removed, "
                 f"{counts['changed']:,} changed, {result.inputs_unchanged:,} unchanged")
    return lines


def to_text(result: RunDiff) -> str:
    lines = _head(result)
    width = max((len(i.path) for i in result.inputs), default=4)
    for item in result.inputs:
        sha = item.b_sha256 if item.change == "added" else item.a_sha256
        lines.append(f"  {item.change:<8} {item.table:<19} {item.path:<{width}}  "
                     f"{(sha or '')[:12]}" + (f" -> {(item.b_sha256 or '')[:12]}"
                                              if item.change == "changed" else ""))
    changed = len(result.changed_figures)
    lines += ["", f"figures ({len(result.figures):,}, {changed:,} changed, marked *):"]
    key_width = max((len(row.key) for row in result.figures), default=6)
    for row in result.figures:
        lines.append(f"{'*' if row.changed else ' '} {row.key:<{key_width}} "
                     f"{_cell(row.a):>14} {_cell(row.b):>14}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_md(result: RunDiff) -> str:
    lines = ["# Diff of two runs", "", *(f"- {_md(line)}" for line in _head(result))]
    if result.inputs:
        lines += ["", "| change | table | file | sha256 before | sha256 after |",
                  "|---|---|---|---|---|"]
        lines += [f"| {i.change} | {i.table} | {_md(i.path)} | {(i.a_sha256 or '-')[:16]} | "
                  f"{(i.b_sha256 or '-')[:16]} |" for i in result.inputs]
    lines += ["", "| figure | A | B | changed |", "|---|---:|---:|---|"]
    lines += [f"| {_md(row.key)} | {_md(_cell(row.a))} | {_md(_cell(row.b))} | "
              f"{'yes' if row.changed else ''} |" for row in result.figures]
    lines += [f"\nNote: {_md(note)}" for note in result.notes]
    return "\n".join(lines) + "\n"
