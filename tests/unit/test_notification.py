"""The incident file's [notification] section: values, predefined answers, moved keys, docs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from incidentscope.config import load_incident
from incidentscope.errors import ConfigError
from incidentscope.notification import KEYS, MOVED_FROM_REPORT, RISK_KEYS
from incidentscope.samples import sample_dir

HEAD = '[incident]\nid = "x"\nfix_at = "2019-09-17"\n'
DOCS = Path(__file__).resolve().parents[2] / "docs" / "incident-file.md"


def test_values_are_kept_as_given_and_lists_sorted(tmp_path: Path) -> None:
    incident = load_incident(_write(tmp_path, HEAD + (
        '[notification]\ntype = "initial"\nnotified_at = 2019-10-08\n'
        'breach_categories = ["integrity", "confidentiality"]\nmain_establishment = "de-by"\n'
        '[notification.risk]\ndata_type = "simple"\ndpc_score = 2\nmalicious = false\n')))
    note = incident.notification
    assert note.text("type") == "initial"
    assert note.text("notified_at") == "2019-10-08"
    assert note.instant("notified_at") == datetime(2019, 10, 8)
    assert note.items("breach_categories") == ("confidentiality", "integrity")
    assert note.text("main_establishment") == "DE-BY"
    assert note.risk == {"data_type": "simple", "dpc_score": 2.0, "malicious": False}
    assert note.as_dict()["risk"]["dpc_score"] == 2.0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "incident.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "named"), [
    ('[notification]\ntype = "preliminary"\n', "[notification].type: one of complete"),
    ('[notification]\ncolour = "red"\n', "[notification]: unknown key 'colour'"),
    ('[notification]\nnotified_at = "last week"\n', "[notification].notified_at"),
    ('[notification]\nbreach_categories = "confidentiality"\n',
     "[notification].breach_categories: expected a list"),
    ('[notification]\nmain_establishment = "Ireland"\n', "[notification].main_establishment"),
    ('[notification.risk]\ndpc_score = 5\n', "[notification].risk.dpc_score: a number from 1"),
    ('[notification.risk]\nmalicious = "no"\n', "[notification].risk.malicious: expected true"),
    ('[notification.risk]\nease_of_identification = "easy"\n',
     "[notification].risk.ease_of_identification: one of negligible"),
    ('[notification]\nrisk = 3\n', "[notification].risk must be a table"),
])
def test_errors_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = _write(tmp_path, HEAD + text)
    with pytest.raises(ConfigError) as info:
        load_incident(path)
    assert str(path) in str(info.value) and named in str(info.value)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_FROM_REPORT.items()))
def test_a_moved_report_key_says_where_it_went(tmp_path: Path, old: str, new: str) -> None:
    path = _write(tmp_path, HEAD + f'[report]\nmin_cell = 5\n{old} = "2019-09-16"\n')
    with pytest.raises(ConfigError) as info:
        load_incident(path)
    assert f"[report].{old}: moved to [notification].{new}" in str(info.value)


def test_the_sample_incident_file_fills_every_template_section() -> None:
    note = load_incident(sample_dir() / "incident.toml").notification
    for key in ("type", "controller", "dpo_contact", "main_establishment", "discovered_at",
                "discovery_method", "breach_categories", "root_cause", "consequences",
                "measures_mitigation", "measures_prevention", "data_subjects_informed",
                "art34_exception"):
        assert note.values.get(key), key
    assert set(note.risk) >= {"data_type", "ease_of_identification", "integrity",
                              "availability", "malicious"}


def test_every_key_and_every_predefined_value_is_documented() -> None:
    docs = DOCS.read_text()
    section = docs[docs.index("## [notification]"):]
    for key in (*KEYS.values(), *RISK_KEYS.values()):
        assert f"`{key.name}`" in section, key.name
        for choice in key.choices:
            assert re.search(rf"`{re.escape(choice)}`", section), (key.name, choice)
