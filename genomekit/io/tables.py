"""Writers for result tables: Parquet (row groups streamed) or TSV."""

from __future__ import annotations

import polars as pl


class TableWriter:
    """Append polars DataFrames of one schema to a Parquet or TSV file."""

    def __init__(self, path: str, fmt: str, schema: dict):
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self.rows = 0
        self._pq = None
        self._fh = None
        if fmt == "tsv":
            self._fh = open(path, "w")
            self._fh.write("\t".join(schema) + "\n")

    def write(self, df: pl.DataFrame) -> None:
        self.rows += df.height
        if self.fmt == "tsv":
            df.write_csv(self._fh, separator="\t", include_header=False, null_value="NA")
            return
        import pyarrow.parquet as pq

        table = df.to_arrow()
        if self._pq is None:
            self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._pq.write_table(table)

    def close(self) -> None:
        if self.fmt == "tsv":
            self._fh.close()
            return
        if self._pq is None:  # no rows: still a valid file with the schema
            pl.DataFrame(schema=self.schema).write_parquet(self.path, compression="zstd")
        else:
            self._pq.close()
