"""Imported by the parse pool's fork server only, last in its preload list
(`harvester.pipeline._process_pool`), never by the harvester itself: it readies the server's
memory to be shared with the workers forked from it.

A forked worker shares the server's memory until it writes to a page. Two things would make it
write to most of them: the cyclic collector, which writes into every object it scans (a full
collection in a worker scans everything it inherited), and objects a worker builds on its
first page, which fill the free slots scattered over the inherited pages. So the server builds
the language table every page's normalizing reads (catalog/iso639_table.py: ~35,000 objects,
built on first use), loads the serializers and the citation style every record's stored
renderings need (catalog/prepared.py), collects once, and freezes what it has (gc.freeze: frozen objects are never
scanned again, here or in a worker). Measured (one worker, 1,500 fixture pages handed to it):
the server and the worker 61 MB PSS without this module, 58 with it.
"""

import contextlib
import gc

import harvester.normalize
import harvester.parse  # noqa: F401 -- the parser every worker runs (harvester/parse_worker.py imports it lazily)
from catalog.iso639_table import table
from catalog.prepared import warm

# Not a reason to stop the server (the preload only ignores an ImportError): a worker that still
# needs the table or a serializer loads it itself, and a page that cannot be normalized or
# prepared fails alone, as before.
with contextlib.suppress(Exception):
    table()
with contextlib.suppress(Exception):
    warm()  # the serializers a worker runs on every record it prepares for the store
gc.collect()
gc.freeze()
