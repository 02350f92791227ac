"""Pathological pages under the size cap: bounded memory, a recorded reason, no quadratic work.

19 MB of nested <div> took 4.7 GB and 147 s; 100 000 subject pills 101 s (a quadratic
de-duplication). The parser now refuses a page with more than parse.MAX_ELEMENTS elements
or nested deeper than parse.MAX_DEPTH before building a tree, keeps at most
parse.MAX_VALUES names per field and parse.MAX_VALUE_CHARS characters a name, and says so
in the record's problems. Peak RSS is measured in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.errors import ParseError
from harvester.parse import MAX_DEPTH, MAX_ELEMENTS, MAX_VALUE_CHARS, MAX_VALUES, parse_page
from tests.support.faulty_server import fixture_pages

ROOT = Path(__file__).resolve().parents[2]
INFO = b'<div class="document-information">'


def page_with(insert: bytes) -> bytes:
    body = fixture_pages()[0].body
    assert INFO in body
    return body.replace(INFO, insert + INFO, 1)


def pills(names: list[str], heading: str = "Subjects Discussed:") -> bytes:
    rows = "".join(f'<a class="pill" href="/s"><div class="name"><span>{n}</span></div></a>' for n in names)
    return f'<h2 class="title">{heading}</h2><div class="pills">{rows}</div>'.encode()


def parse_in_child(body: bytes, tmp_path: Path) -> dict:
    page = tmp_path / "page.html"
    page.write_bytes(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.reliability.hostile_child", "parse", str(page)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a child process per page (~1 s CPU, up to 300 MiB); the bounds are also tested in process below
@pytest.mark.parametrize("shape", ["nested_divs", "flat_divs", "pills"])
def test_a_pathological_page_is_refused_with_flat_memory(shape: str, tmp_path: Path) -> None:
    if shape == "nested_divs":
        n = 19_000_000 // 11
        body = page_with(b"<div>" * n + b"x" + b"</div>" * n)  # 19 MB, under the 20 MB cap
    elif shape == "flat_divs":
        body = page_with(b"<div>x</div>" * 1_500_000)  # 18 MB
    else:
        body = page_with(pills([f"Subject {i}" for i in range(100_000)]))
    got = parse_in_child(body, tmp_path)
    assert got["result"] == "failed" and "a pathological page" in got["detail"], got
    print(f"{shape} ({len(body) / 1e6:.1f} MB): peak RSS {got['peak_rss_mib']:.0f} MiB")
    assert got["peak_rss_mib"] < 300  # was 4.7 GB for the nested divs


def test_element_count_is_bounded_before_any_tree_is_built() -> None:
    body = page_with(b"<div>x</div>" * (MAX_ELEMENTS + 10))
    with pytest.raises(ParseError, match=rf"a pathological page: about \d+ elements, over the bound of {MAX_ELEMENTS}"):
        parse_page(body, record_id=1, final_url="http://x/document/a")


def test_depth_is_bounded_below_the_element_bound() -> None:
    n = MAX_DEPTH + 10
    assert 2 * n < MAX_ELEMENTS
    with pytest.raises(ParseError, match=r"elements nested \d+ deep, over the bound of"):
        parse_page(page_with(b"<div>" * n + b"x" + b"</div>" * n), record_id=1, final_url="http://x/document/a")


def test_names_per_field_and_name_length_are_bounded_with_a_problem() -> None:
    names = [f"Subject {i}" for i in range(MAX_VALUES + 500)] + ["Subject 3"] * 50 + ["L" * (MAX_VALUE_CHARS + 10)]
    parsed = parse_page(page_with(pills(names)), record_id=1, final_url="http://x/document/a")
    subjects = parsed.sections["subjects"]
    assert subjects == names[:MAX_VALUES]  # first ones, in order, each once
    assert any(f"over {MAX_VALUES} names" in p for p in parsed.problems)
    long = page_with(pills(["Short", "L" * (MAX_VALUE_CHARS + 10)]))
    parsed = parse_page(long, record_id=1, final_url="http://x/document/a")
    assert max(len(s) for s in parsed.sections["subjects"]) == MAX_VALUE_CHARS
    assert any(f"over {MAX_VALUE_CHARS} characters" in p for p in parsed.problems)


@pytest.mark.slow  # a child process (~2 s CPU): the quadratic-time guard; the names bound is tested in process above
def test_many_distinct_pills_under_the_bounds_parse(tmp_path: Path) -> None:
    # 10 000 pills (40 000 elements) parse; with the old `value not in names` this was quadratic.
    got = parse_in_child(page_with(pills([f"Subject {i}" for i in range(10_000)])), tmp_path)
    assert got["result"] == "parsed" and any(f"over {MAX_VALUES} names" in p for p in got["problems"]), got
