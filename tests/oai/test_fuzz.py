"""A small fuzz of request arguments: never a 500, always a schema-valid OAI-PMH document."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oai.conftest import Server

NAMES = st.sampled_from(["verb", "metadataPrefix", "identifier", "set", "from", "until", "resumptionToken", "x"])
VALUES = st.one_of(
    st.sampled_from(["Identify", "ListRecords", "ListIdentifiers", "ListSets", "GetRecord", "ListMetadataFormats",
                     "oai_dc", "oai_qdc", "type:cable", "2024-03-01", "2024-03-01T08:00:00Z",
                     "oai:digitalarchive.wilsoncenter.org:100007", ""]),
    st.text(max_size=30),
)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.tuples(NAMES, VALUES), max_size=5), post=st.booleans())
def test_fuzzed_arguments_always_give_a_valid_oai_document(server: Server, args: list[tuple[str, str]],
                                                           post: bool) -> None:
    before = len(server.validator.failures)
    resp = server.post(args) if post else server.get(args)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert server.validator.failures[before:] == []
