"""Catalog records, the store and the export formats."""
