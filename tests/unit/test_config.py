"""The incident file: defaults, validation, errors that name the file and the key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from incidentscope.config import load_incident
from incidentscope.errors import ConfigError, MissingInputError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "incident.toml"
    path.write_text(text)
    return path


def test_defaults_and_time_conversion(tmp_path: Path) -> None:
    incident = load_incident(write(tmp_path, '[incident]\nid = "x"\n'
                                             'fix_at = "2019-09-17T02:00:00+02:00"\n'))
    assert incident.fix_at == datetime(2019, 9, 17, 0, 0)
    assert incident.window_start is None
    assert incident.restricted_purposes == ("account_recovery", "two_factor")
    assert incident.audience_types == ("partner", "tailored")
    assert incident.normalization == "twitter"
    assert incident.min_cell == 10


def test_date_values_mean_midnight_utc(tmp_path: Path) -> None:
    incident = load_incident(write(tmp_path, '[incident]\nid = "x"\nwindow_start = 2013-05-01\n'
                                             'fix_at = 2019-09-17\n'))
    assert incident.window_start == datetime(2013, 5, 1)
    assert incident.fix_at == datetime(2019, 9, 17)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\ncolour = 1\n', "colour"),
        ('[incident]\nid = "x"\n', "fix_at"),
        ('[incident]\nid = "x"\nfix_at = "yesterday"\n', "fix_at"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\naudience_types = ["lookalike"]\n',
         "audience_types"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\nnormalization = "apple"\n',
         "normalization"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\ninput_timezone = "Mars/Base"\n',
         "input_timezone"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\n[report]\nmin_cell = 0\n', "min_cell"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\n[inputs.contacts]\n'
         'columns = { phone_number = "p" }\n', "phone_number"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\n[inputs.users]\npath = "u.csv"\n',
         "users"),
        ('[incident]\nid = "x"\nfix_at = "2019-09-17"\nwindow_start = "2020-01-01"\n',
         "window_start"),
        ("[incident\n", "TOML"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_incident(path)
    assert str(path) in str(info.value)
    assert named in str(info.value)


def test_missing_incident_file(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError):
        load_incident(tmp_path / "nope.toml")
