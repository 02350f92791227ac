"""`harvester search` on both backends, its formats, and `--format ids` piped into cite and export."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner, Result

from catalog.search import SearchParams, parse_text, run_search
from catalog.store import CatalogStore
from harvester.cli import cli
from tests.search.catalog import HOSTILE_TITLE, expected_ids


def run(store: CatalogStore, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", store.url, *args], input=stdin, catch_exceptions=False)


def test_ids_are_every_match_on_both_backends(catalogs: dict[str, CatalogStore]) -> None:
    want = expected_ids(parse_text("memorandum"), ("language:rus",), "1950-01-01", "1969-12-31")
    assert len(want) > 1
    outputs = []
    for store in catalogs.values():
        result = run(store, "search", "memorandum", "--facet", "language=Russian", "--from", "1950", "--to", "1969",
                     "--sort", "date", "--format", "ids")
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
        assert {int(line) for line in result.output.split()} == want
    assert outputs[0] == outputs[1]  # same order too (date sort)
    # more than one page of 100 is still every match
    everything = run(catalogs["sqlite"], "search", "--format", "ids", "--per-page", "5", "--all").output.split()
    assert len(everything) == run_search(catalogs["sqlite"], SearchParams()).total


def test_table_json_and_csv(catalogs: dict[str, CatalogStore]) -> None:
    store = catalogs["sqlite"]
    table = run(store, "search", "alert", "--facets")
    assert table.exit_code == 0
    assert HOSTILE_TITLE[:40] in table.output and "of 1 record" in table.output
    assert "Has scan:" in table.output
    page = json.loads(run(store, "search", "cold", "war", "--format", "json", "--per-page", "3").output)
    assert page["query"] == {"q": "cold war", "per_page": "3"}
    assert page["total"] == len(expected_ids(parse_text("cold war"))) and len(page["hits"]) == 3
    marked = json.loads(run(store, "search", "earnest", "--format", "json").output)["hits"][0]["snippet"]
    assert [s["text"] for s in marked if s["match"]] == ["earnest"]
    assert "type" in page["facets"]
    rows = list(csv.DictReader(io.StringIO(run(store, "search", "alert", "--format", "csv").output)))
    assert [r["title"] for r in rows] == [HOSTILE_TITLE]


def test_bad_parameters_exit_2_with_one_line(catalogs: dict[str, CatalogStore]) -> None:
    store = catalogs["sqlite"]
    for args, hint in [(["--facet", "colour=red"], "--facet"), (["--page", "1000000000"], "--page"),
                       (["--from", "1950-13"], "--from"), (["x" * 10240], "WORDS")]:
        result = run(store, "search", *args)
        assert result.exit_code == 2, result.output
        assert hint in result.output and "Traceback" not in result.output
    assert run(store, "search", "NEAR(", '"', "title:*", ")").exit_code == 0  # syntax characters are text


def test_ids_pipe_into_cite_and_export(catalogs: dict[str, CatalogStore]) -> None:
    store = catalogs["sqlite"]
    ids = run(store, "search", "panmunjom", "--format", "ids").output
    assert len(ids.split()) == 3
    cited = run(store, "cite", "--ids-file", "-", stdin=ids)
    assert cited.exit_code == 0 and cited.output.count("Panmunjom") >= 1 and len(cited.output.splitlines()) == 3
    exported = run(store, "export", "jsonl", "--ids-file", "-", stdin=ids)
    assert exported.exit_code == 0
    exported_ids = sorted(json.loads(line)["record"]["record_id"] for line in exported.output.splitlines())
    assert exported_ids == sorted(map(int, ids.split()))
    nothing = run(store, "search", "zzzz", "--format", "ids").output
    assert nothing == ""
    empty = run(store, "export", "jsonl", "--ids-file", "-", stdin=nothing)
    assert empty.exit_code == 0 and empty.output == ""  # nothing found: nothing exported, never everything
    bad = run(store, "export", "jsonl", "--ids-file", "-", stdin="12x\n")
    assert bad.exit_code == 2 and "stdin:1" in bad.output
