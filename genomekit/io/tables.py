"""Writers for result tables: Parquet (row groups streamed) or TSV."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl

# Rows gathered before a Parquet row group is written: few, large row groups read
# faster and cost less to write than one per chunk.
ROW_GROUP_ROWS = 65_536


class TableWriter:
    """Append polars DataFrames of one schema to a Parquet or TSV file.

    Parquet row groups are written on a thread of their own, one at a time and in
    order, while the caller goes on (at most one group waits beside the one being
    written); an error of that thread comes out of the next ``write`` or ``close``.
    A table of one row group at most is written by polars at ``close``.
    """

    def __init__(self, path: str, fmt: str, schema: dict):
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self.rows = 0
        self._pq = None
        self._fh = None
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._pool: ThreadPoolExecutor | None = None
        self._writing: Future | None = None
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
        if not self._pending:
            return
        parts, self._pending, self._pending_rows = self._pending, [], 0
        self._wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="table-writer")
        self._writing = self._pool.submit(self._write_group, parts)

    def _write_group(self, parts: list[pl.DataFrame]) -> None:
        import pyarrow.parquet as pq

        df = parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=True)
        table = df.to_arrow()
        if self._pq is None:
            self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._pq.write_table(table)

    def _wait(self) -> None:
        """Wait for the row group being written; its error, if any, is raised here."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def close(self) -> None:
        if self.fmt == "tsv":
            self._fh.close()
            return
        if self._pool is None:
            # One row group at most (no rows: still a valid file with the schema):
            # polars writes it at once, without pyarrow's streaming writer.
            df = pl.concat(self._pending, rechunk=True) if self._pending else \
                pl.DataFrame(schema=self.schema)
            self._pending, self._pending_rows = [], 0
            df.write_parquet(self.path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            return
        try:
            self._flush()
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            if self._pq is not None:
                self._pq.close()
