"""What changed between two runs: `incidentscope diff`, and a follow-up notification's changes.

A run is known by its manifest (OUT/manifest.json) and the report.json beside it. The
diff puts every report.json figure side by side (dotted keys, as `verify` names them),
lists the input files added, removed or changed (by table and path, compared by SHA-256),
the incident file's content key by key, and the tool's versions.

A follow-up notification (Art. 33(4)) compares the run that made the initial one (its
manifest) with the replay now: the figures, the workspace's loaded input files, the
incident file and the tool, and says in words why the figures may have changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incidentscope.manifest import flatten
from incidentscope.manifest import read as read_manifest


@dataclass(frozen=True)
class RunRef:
    """One run, as its manifest names it."""

    manifest_path: str
    manifest_sha256: str
    run_id: str
    started_at: str
    incident_sha256: str
    notification: dict[str, Any]  # the incident file's [notification] as the run read it


@dataclass(frozen=True)
class FigureRow:
    key: str  # dotted report.json key
    a: Any  # None when absent on that side
    b: Any

    @property
    def changed(self) -> bool:
        return bool(self.a != self.b)


@dataclass(frozen=True)
class InputChange:
    table: str
    path: str
    change: str  # added | removed | changed
    a_sha256: str | None
    b_sha256: str | None


@dataclass(frozen=True)
class ValueChange:
    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunDiff:
    a: RunRef
    b: RunRef
    figures: tuple[FigureRow, ...]  # every figure of either report.json, sorted by key
    inputs: tuple[InputChange, ...]
    inputs_unchanged: int
    incident: tuple[ValueChange, ...]  # incident file content that differs, by dotted key
    tool: tuple[ValueChange, ...]  # incidentscope, engine and library versions that differ
    notes: tuple[str, ...]

    @property
    def changed_figures(self) -> tuple[FigureRow, ...]:
        return tuple(row for row in self.figures if row.changed)


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up notification says changed since the previous one, and why."""

    previous: RunRef
    figures: tuple[FigureRow, ...]  # changed figures only
    inputs: tuple[InputChange, ...]
    incident: tuple[ValueChange, ...]
    tool: tuple[ValueChange, ...]
    reasons: tuple[str, ...]
    notes: tuple[str, ...]


def _run_ref(path: Path, manifest: dict[str, Any]) -> RunRef:
    content = manifest.get("incident", {}).get("content", {})
    return RunRef(str(path), hashlib.sha256(path.read_bytes()).hexdigest(),
                  str(manifest.get("run_id")), str(manifest.get("started_at")),
                  str(manifest.get("incident", {}).get("sha256")),
                  dict(content.get("notification") or {}))


def _report(path: Path, manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """report.json beside the manifest, and notes when it is missing or changed."""
    report_path = path.parent / "report.json"
    if not report_path.is_file():
        return {}, [f"{report_path}: missing; its figures are left out"]
    content = report_path.read_bytes()
    notes = []
    expected = manifest.get("outputs", {}).get("report.json", {}).get("sha256")
    if expected and hashlib.sha256(content).hexdigest() != expected:
        notes.append(f"{report_path}: changed since its run (hash differs from the manifest)")
    try:
        report = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}, [*notes, f"{report_path}: not valid JSON; its figures are left out"]
    return (report if isinstance(report, dict) else {}), notes


def figure_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[FigureRow, ...]:
    left, right = flatten(dict(a)), flatten(dict(b))
    return tuple(FigureRow(key, left.get(key), right.get(key))
                 for key in sorted(set(left) | set(right)))


def value_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[ValueChange, ...]:
    return tuple(ValueChange(row.key, row.a, row.b) for row in figure_rows(a, b) if row.changed)


def input_changes(a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]]
                  ) -> tuple[tuple[InputChange, ...], int]:
    """Files by (table, path): added, removed, changed (another SHA-256); and the unchanged."""
    def index(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], set[str]]:
        found: dict[tuple[str, str], set[str]] = {}
        for item in items:
            found.setdefault((str(item["table"]), str(item["path"])), set()).add(
                str(item["sha256"]))
        return found

    left, right = index(a), index(b)
    changes, unchanged = [], 0
    for key in sorted(set(left) | set(right)):
        old, new = left.get(key), right.get(key)
        if old == new:
            unchanged += 1
        elif old is None or new is None:
            sha = sorted(new or old or {""})[-1]
            changes.append(InputChange(*key, "added" if old is None else "removed",
                                       None if old is None else sha,
                                       sha if old is None else None))
        else:
            changes.append(InputChange(*key, "changed", ", ".join(sorted(old)),
                                       ", ".join(sorted(new))))
    return tuple(changes), unchanged


def _tool(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {key: manifest.get(key) for key in ("incidentscope", "engine", "versions")}


def diff_runs(a_path: Path, b_path: Path) -> RunDiff:
    """Run A (older) beside run B, from their manifests and the report.json beside each."""
    a_manifest, b_manifest = read_manifest(a_path), read_manifest(b_path)
    a_report, a_notes = _report(a_path, a_manifest)
    b_report, b_notes = _report(b_path, b_manifest)
    inputs, unchanged = input_changes(a_manifest.get("inputs", []), b_manifest.get("inputs", []))
    return RunDiff(
        _run_ref(a_path, a_manifest), _run_ref(b_path, b_manifest),
        figure_rows(a_report, b_report), inputs, unchanged,
        value_changes(a_manifest["incident"].get("content", {}),
                      b_manifest["incident"].get("content", {})),
        value_changes(_tool(a_manifest), _tool(b_manifest)), (*a_notes, *b_notes))


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def reasons(inputs: tuple[InputChange, ...], incident: tuple[ValueChange, ...],
            tool: tuple[ValueChange, ...], figures_changed: bool) -> tuple[str, ...]:
    """Why the figures may have changed, in words, from what changed underneath them."""
    out = []
    for change in ("added", "changed", "removed"):
        files = [i for i in inputs if i.change == change]
        if files:
            tables = sorted({i.table for i in files})
            out.append(f"{_plural(len(files), 'input file')} {change} "
                       f"({', '.join(tables)}): "
                       + ", ".join(i.path for i in files[:10])
                       + (f" and {len(files) - 10:,} more" if len(files) > 10 else ""))
    if incident:
        out.append("the incident file changed: " + ", ".join(c.key for c in incident[:10])
                   + (f" and {len(incident) - 10:,} more" if len(incident) > 10 else ""))
    version = [c for c in tool if c.key.startswith(("incidentscope.", "engine"))]
    if version:
        out.append("the tool changed: " + ", ".join(f"{c.key} {c.a} -> {c.b}" for c in version))
    if not out:
        out.append("no input file, incident file setting or tool version changed"
                   + (": the figures should not have changed" if figures_changed else ""))
    return tuple(out)


def follow_up(previous_manifest: Path, report: Mapping[str, Any],
              inputs: Iterable[Mapping[str, Any]], incident_content: Mapping[str, Any],
              tool: Mapping[str, Any]) -> FollowUp:
    """The changes since the run of `previous_manifest`, to the replay now.

    `inputs`: the files the replay reads (table, path, sha256); `incident_content`:
    manifest.incident_content of the incident now; `tool`: manifest.tool_versions().
    """
    manifest = read_manifest(previous_manifest)
    previous_report, notes = _report(previous_manifest, manifest)
    figures = tuple(r for r in figure_rows(previous_report, report) if r.changed)
    changed_inputs, _unchanged = input_changes(manifest.get("inputs", []), inputs)
    previous_content = dict(manifest["incident"].get("content", {}))
    # the notification's own statements change from one notification to the next
    incident = tuple(c for c in value_changes(previous_content, incident_content)
                     if not c.key.startswith("notification."))
    tool_changes = value_changes(_tool(manifest), tool)
    return FollowUp(_run_ref(previous_manifest, manifest), figures, changed_inputs, incident,
                    tool_changes, reasons(changed_inputs, incident, tool_changes,
                                          bool(figures)), tuple(notes))
