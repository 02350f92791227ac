"""Shared pieces of the benchmarks: machine and version info, the synthetic catalog,
child-process measurements, and writing figures to bench/RESULTS.md.

Each benchmark script writes its figures to bench/.cache/results/<name>.json;
`python bench/common.py report` (run last by bench/run) assembles bench/RESULTS.md
from those files, the machine description and bench/analysis.md (the hand-written
"where the time goes" part, kept in git).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
RESULTS_DIR = CACHE / "results"
RESULTS_MD = BENCH / "RESULTS.md"
ANALYSIS_MD = BENCH / "analysis.md"
FIXTURE_WARC = ROOT / "fixtures" / "warc" / "documents"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGES = ["lxml", "beautifulsoup4", "soupsieve", "pydantic", "pydantic-core", "httpx", "warcio", "edtf",
            "waitress", "oaipmh", "sickle", "pyinstrument", "py-spy"]

CATALOG_START = datetime(2025, 1, 1, tzinfo=UTC)


# -- machine ---------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": __import__("sqlite3").sqlite_version,
        "commit": commit,
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


# -- results ---------------------------------------------------------------------------
class Results:
    """Figures of one benchmark: tables (printed as they are added) and notes."""

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title
        self.tables: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.started = time.monotonic()

    def table(self, caption: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        rows = [[_fmt(v) for v in row] for row in rows]
        self.tables.append({"caption": caption, "columns": list(columns), "rows": rows})
        print(f"\n{caption}")
        widths = [max(len(str(c)), *(len(r[i]) for r in rows)) if rows else len(str(c)) for i, c in enumerate(columns)]
        print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)))
        for row in rows:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        sys.stdout.flush()

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"note: {text}")
        sys.stdout.flush()

    def save(self) -> None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        data = {"name": self.name, "title": self.title, "tables": self.tables, "notes": self.notes,
                "seconds": round(time.monotonic() - self.started, 1),
                "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
        (RESULTS_DIR / f"{self.name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
        print(f"\n[{self.name}] done in {data['seconds']} s; figures in {RESULTS_DIR / (self.name + '.json')}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def met(ok: bool, why: str = "") -> str:
    return "met" if ok else ("NOT met" + (f": {why}" if why else ""))


# Section numbers in RESULTS.md ("## 4. Export..."; backends also writes 6b-6d, oai_ratio is 5b).
NUMBERS = {"commands": "0", "parse": "1", "harvest": "2", "sync": "3", "export": "4", "oai": "5", "oai_ratio": "5b",
           "backends": "6", "cite": "7", "politeness": "8", "work": "9", "search": "10", "web": "11", "suite": "12",
           "stale": "13"}
ORDER = list(NUMBERS)  # the order of the sections in RESULTS.md


def _kept_sections() -> dict[str, list[str]]:
    """The figure sections of the current RESULTS.md by benchmark name, for benchmarks whose
    figures are not in bench/.cache/results (e.g. a fresh checkout that ran only some)."""
    if not RESULTS_MD.exists():
        return {}
    import re

    by_number = {v: k for k, v in NUMBERS.items()}
    kept: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in RESULTS_MD.read_text().splitlines():
        if line.startswith("## "):
            match = re.match(r"## (\d+)([a-z]?)\. ", line)
            name = None
            if match:
                name = by_number.get(match[1] + match[2]) or by_number.get(match[1])
            current = kept.setdefault(name, []) if name else None
            if current is not None:
                while current and not current[-1].strip():
                    current.pop()
                current.append("")
        if current is not None:
            current.append(line)
    for block in kept.values():
        while block and not block[-1].strip():
            block.pop()
    return kept


def report() -> None:
    """Assemble bench/RESULTS.md from the saved figures."""
    info = machine()
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/run` (do not edit by hand; the analysis part comes from `bench/analysis.md`).",
        "Every figure is compared with a reference measured in the same run on the same machine, so the",
        "ratios hold even when other work shares the cores.",
        "",
        "| | |",
        "| --- | --- |",
    ]
    for key in ("date", "cpu", "cores", "memory", "os", "python", "sqlite", "commit", "packages"):
        lines.append(f"| {key} | {info[key]} |")
    kept = _kept_sections()
    for name in ORDER:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            lines += kept.get(name) or []  # a benchmark never run has no section yet
            continue
        data = json.loads(path.read_text())
        lines += ["", f"## {data['title']}", "", f"_run {data['finished']}, {data['seconds']} s_"]
        for table in data["tables"]:
            lines += ["", f"**{table['caption']}**", "", "| " + " | ".join(table["columns"]) + " |",
                      "| " + " | ".join("---" for _ in table["columns"]) + " |"]
            lines += ["| " + " | ".join(r) + " |" for r in table["rows"]]
        if data["notes"]:
            lines.append("")
            lines += [f"- {n}" for n in data["notes"]]
    if ANALYSIS_MD.exists():
        lines += ["", ANALYSIS_MD.read_text().rstrip()]
    RESULTS_MD.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS_MD}")


# -- child processes -----------------------------------------------------------------
def run_child(args: Sequence[str], *, timeout: float = 600) -> dict[str, Any]:
    """Run `python args...` (a benchmark's child mode); it prints one JSON line last.

    Adds `peak_rss_mb` (the child's ru_maxrss: the whole process, interpreter and imports included).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all waited-for children so far, so the
    # child reports its own figure too; prefer that one.
    out.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    del before
    return out


def own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the fixture records and the synthetic catalog -----------------------------------------
def settings_for(tmp: Path, **overrides: Any) -> Any:  # a Settings (imported lazily)
    from harvester.config import load_settings

    layers = {"storage": {"database": str(tmp / "catalog.db"), "warc_dir": str(tmp / "warc")}}
    for section, values in overrides.items():
        layers.setdefault(section, {}).update(values)
    config = tmp / "bench.toml"
    if not config.exists():
        config.write_text("")  # no config.toml of the checkout: defaults + these overrides only
    return load_settings(path=str(config), overrides=layers, environ={})


def fixture_records() -> list:  # -> list[CatalogRecord]
    """The fixture documents as the harvester makes them (replayed from their WARC files)."""
    from catalog.store import SQLiteStore
    from harvester.pipeline import harvest, ids_in_archive

    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp))
        store = SQLiteStore(Path(tmp) / "catalog.db")
        try:
            ids = ids_in_archive(FIXTURE_WARC)
            harvest(ids, settings=settings, store=store, replay=FIXTURE_WARC)
            return [s.record for s in store.iter_records()]
        finally:
            store.close()


def clone(record: Any, new_id: int) -> Any:  # (CatalogRecord, int) -> CatalogRecord
    """A copy of a fixture record under a new Record ID (slug and URLs follow)."""
    data = record.model_dump()
    slug = f"{record.slug or 'document'}-{new_id}"
    base = record.url.split("/document/")[0]
    data.update(record_id=new_id, slug=slug, url=f"{base}/document/{slug}",
                node_id=(record.node_id or 0) * 0 + 10_000_000 + new_id)
    prov = dict(data["provenance"])
    prov.update(request_url=f"{base}/document/{new_id}", final_url=f"{base}/document/{slug}")
    data["provenance"] = prov
    return type(record).model_validate(data)


def synthetic_catalog(size: int) -> Path:
    """A catalog of `size` records cloned from the fixture records, cached under bench/.cache.

    Built through SQLiteStore.upsert (so the facet index is written by the same unit of work
    a harvest uses), all in ONE transaction: the nested upsert transactions join it.
    """
    path = CACHE / f"catalog-v5-{size}.db"  # v5: the schema with the derived indexes (m0005)
    if path.exists():
        return path
    from catalog.store import SQLiteStore

    CACHE.mkdir(parents=True, exist_ok=True)
    base = fixture_records()
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    store = SQLiteStore(tmp)
    try:
        with store.transaction():
            for i in range(size):
                record = clone(base[i % len(base)], 1_000_000 + i)
                store.upsert(record, now=CATALOG_START + timedelta(seconds=i))
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    tmp.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    print(f"built {path.name}: {size:,} records in {time.perf_counter() - started:.1f} s "
          f"(SQLiteStore.upsert, one transaction)", flush=True)
    return path


def with_renderings(path: Path) -> float:
    """Bring a cached catalog to the current schema and store the current renderings of its
    records (what `harvester reindex` does after an upgrade; a catalog built by this code has
    them from its upserts already); seconds spent, ~0 when there was nothing to do."""
    from catalog.store import SQLiteStore

    started = time.perf_counter()
    store = SQLiteStore(path)
    try:
        if store.fill_renderings():
            store.checkpoint()
    finally:
        store.close()
    return time.perf_counter() - started


def copy_catalog(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


if __name__ == "__main__":
    if sys.argv[1:] == ["report"]:
        report()
    elif sys.argv[1:2] == ["catalog"]:
        for n in sys.argv[2:]:
            print(synthetic_catalog(int(n)))
    else:
        print("usage: bench/common.py report | catalog N...", file=sys.stderr)
        sys.exit(2)
