"""interop/stix.dumps: the stored JSON of an object, orjson with the standard encoder behind it."""

from __future__ import annotations

import json

from commonguard.interop.stix import dumps


def test_compact_utf8_json_that_reads_back_equal() -> None:
    obj = {"type": "indicator", "name": "Zürich’s “lure” ☕", "confidence": 85, "x_score": 0.5, "labels": []}
    text = dumps(obj)
    assert text == '{"type":"indicator","name":"Zürich’s “lure” ☕","confidence":85,"x_score":0.5,"labels":[]}'
    assert json.loads(text) == obj


def test_an_integer_beyond_64_bits_is_written_by_the_standard_encoder() -> None:
    obj = {"type": "x-custom", "x_big": 2**70, "name": "é"}
    assert json.loads(dumps(obj)) == obj
    assert dumps(obj) == '{"type":"x-custom","x_big":1180591620717411303424,"name":"é"}'
