"""JSON columns are parsed by pydantic-core (db/session.py): the same values as json.loads."""

from __future__ import annotations

import json

import pytest

from controlplane.db.session import json_column_loads

DOCUMENTS = [
    '["load", "prod"]',
    '[{"name": "max_connections", "value": "100"}]',
    '{"port": 20000, "name": null, "ok": true, "ratio": 0.5}',
    "[]",
    '["\\u00e9lan", "\\ud83d\\ude00"]',
    '["\\ud800"]',  # an escaped lone surrogate: pydantic-core refuses it, json reads it
    "[123456789012345678901234567890]",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_json_column_reads_asjson_column_loads_reads_it(document: str) -> None:
    assert json_column_loads(document) == json.loads(document)
    assert json_column_loads(document.encode()) == json.loads(document)


def test_invalid_json_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        json_column_loads("[1,")
