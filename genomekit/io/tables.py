"""Writers for result tables: Parquet (row groups streamed) or TSV."""

from __future__ import annotations

import polars as pl

# Rows gathered before a Parquet row group is written: few, large row groups read
# faster and cost less to write than one per chunk.
ROW_GROUP_ROWS = 65_536


class TableWriter:
    """Append polars DataFrames of one schema to a Parquet or TSV file."""

    def __init__(self, path: str, fmt: str, schema: dict):
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self.rows = 0
        self._pq = None
        self._fh = None
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        if fmt == "tsv":
            self._fh = open(path, "w")
            self._fh.write("\t".join(schema) + "\n")

    def write(self, df: pl.DataFrame) -> None:
        self.rows += df.height
        if self.fmt == "tsv":
            df.write_csv(self._fh, separator="\t", include_header=False, null_value="NA")
            return
        self._pending.append(df)
        self._pending_rows += df.height
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if not self._pending:
            return
        df = self._pending[0] if len(self._pending) == 1 else pl.concat(self._pending,
                                                                          rechunk=True)
        self._pending, self._pending_rows = [], 0
        table = df.to_arrow()
        if self._pq is None:
            self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._pq.write_table(table)

    def close(self) -> None:
        if self.fmt == "tsv":
            self._fh.close()
            return
        if self._pq is None:
            # One row group at most (no rows: still a valid file with the schema):
            # polars writes it at once, without pyarrow's streaming writer.
            df = pl.concat(self._pending, rechunk=True) if self._pending else \
                pl.DataFrame(schema=self.schema)
            self._pending, self._pending_rows = [], 0
            df.write_parquet(self.path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            return
        self._flush()
        self._pq.close()
