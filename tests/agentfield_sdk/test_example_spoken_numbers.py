"""The voice support examples find an order number however the caller says it: in digits,
digit by digit, in pairs or in words (what the simulator's recognizer and a real provider's
transcripts hold). Python (``examples/voice_support/agent.py``, text2num) and TypeScript
(``examples/voice_support_ts/spokenNumbers.ts``) agree on every phrase."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import pytest

from tests.sdk_typescript.node import EXAMPLE as TS_EXAMPLE
from tests.sdk_typescript.node import build_typescript_sdk
from tests.worker import ROOT

# (what the caller said, the order number found: None for none)
PHRASES = [
    ("where is my order one zero four two", "1042"),
    ("the order one zero four two", "1042"),
    ("ten forty two", "1042"),
    ("where is my order ten forty two", "1042"),
    ("order 1042", "1042"),
    ("Hi, where is my order 1042?", "1042"),
    ("one thousand forty two", "1042"),
    ("the order one thousand and forty two", "1042"),
    ("And order twenty seventy seven?", "2077"),
    ("what is the order status of two thousand seventy seven", "2077"),
    ("three one five zero", "3150"),
    ("order four thousand eight hundred twenty one", "4821"),
    ("order five five five five", "5555"),
    ("where is my order", None),
    ("Thanks, goodbye.", None),
    ("order twelve", None),  # too short for an order number
]


def python_example():
    spec = importlib.util.spec_from_file_location(
        "voice_support_agent", ROOT / "examples" / "voice_support" / "agent.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("said", "number"), PHRASES)
def test_the_python_reasoner_finds_the_order_number(said, number):
    result = python_example().answer(said)

    assert result["order_number"] == number
    if number == "1042":
        assert result["intent"] == "order_status"
        assert result["spoken_response"] == (
            "Order 1042, noise-cancelling headphones, shipped with UPS and should arrive on Friday."
        )
    elif number == "5555":
        assert result["intent"] == "order_not_found"
    elif number is None:
        assert result["intent"] in ("ask_order_number", "goodbye")


def test_the_python_example_reads_number_words_as_digits():
    spoken = python_example().spoken_numbers
    assert spoken("where is my order one zero four two") == "where is my order 1042"
    assert spoken("order ten forty two please") == "order 1042 please"
    assert spoken("order 1042 and 2077") == "order 1042 and 2077"  # two numbers stay two


def test_the_typescript_reasoner_finds_the_same_order_numbers():
    build_typescript_sdk()  # builds the example too (dist/spokenNumbers.js)
    script = (
        "import('./dist/spokenNumbers.js').then((m) => {"
        " const phrases = JSON.parse(process.argv[1]);"
        " console.log(JSON.stringify(phrases.map((p) => m.orderNumberOf(p) ?? null)));"
        " console.log(m.spokenNumbers('order ten forty two please'));"
        " console.log(m.spokenNumbers('order 1042 and 2077')); })"
    )
    said = [phrase for phrase, _ in PHRASES]
    run = subprocess.run(
        ["node", "-e", script, json.dumps(said)],
        cwd=TS_EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found, paired, two = run.stdout.splitlines()

    assert dict(zip(said, json.loads(found), strict=True)) == dict(PHRASES)
    assert paired == "order 1042 please"
    assert two == "order 1042 and 2077"
