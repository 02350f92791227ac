"""Export formats for catalog records: one small module per format, see `registry`."""

# The format names, for the command line without importing the formats (registry.FORMATS
# maps each to its writer; tests/harvest/test_startup.py checks the two agree).
FORMAT_NAMES = ("oai_dc", "oai_qdc", "mods", "marcxml", "jsonld", "csl-json", "jsonl", "csv", "ris", "bibtex")
# Other names a format answers to (registry.ALIASES): the old private qualified-DC prefix.
FORMAT_ALIASES = ("qdc",)
