"""Export formats for catalog records: one small module per format, see `registry`."""
