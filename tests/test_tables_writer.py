"""genomekit.io.tables.TableWriter: row groups, formats, and errors of the writer thread."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq
import pytest

from genomekit.io import tables

SCHEMA = {"CHROM": pl.String, "POS": pl.Int64, "AF": pl.Float64}


def _parts(sizes):
    start = 0
    for n in sizes:
        yield pl.DataFrame({"CHROM": [f"chr{i % 3}" for i in range(start, start + n)],
                            "POS": list(range(start, start + n)),
                            "AF": [i / 7 if i % 5 else None for i in range(start, start + n)]},
                           schema=SCHEMA)
        start += n


@pytest.mark.parametrize("sizes,groups", [
    ([3, 4, 2], [9]),               # under one row group: written at close by polars
    ([6, 5, 10, 1, 7], [11, 10, 8]),  # row groups of >= 10 rows on the writer thread
    ([25], [25]),
    ([], []),
])
def test_parquet_row_groups_hold_every_row_in_order(tmp_path, monkeypatch, sizes, groups):
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 10)
    path = tmp_path / "t.parquet"
    writer = tables.TableWriter(str(path), "parquet", SCHEMA)
    parts = list(_parts(sizes))
    for df in parts:
        writer.write(df)
    writer.close()
    want = pl.concat(parts) if parts else pl.DataFrame(schema=SCHEMA)
    got = pl.read_parquet(path)
    assert got.schema == want.schema and got.equals(want)
    meta = pq.ParquetFile(path).metadata
    got_groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert [n for n in got_groups if n] == groups
    assert writer.rows == sum(sizes)


def test_tsv_equals_parquet(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 10)
    parts = list(_parts([6, 5, 10]))
    for fmt in ("tsv", "parquet"):
        writer = tables.TableWriter(str(tmp_path / f"t.{fmt}"), fmt, SCHEMA)
        for df in parts:
            writer.write(df)
        writer.close()
    tsv = pl.read_csv(tmp_path / "t.tsv", separator="\t", null_values="NA", schema=SCHEMA)
    assert tsv.equals(pl.read_parquet(tmp_path / "t.parquet"))


def test_writer_thread_error_comes_out_of_write_or_close(tmp_path, monkeypatch):
    # A row group the Parquet writer refuses (another schema than the first group's).
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 2)
    writer = tables.TableWriter(str(tmp_path / "t.parquet"), "parquet", SCHEMA)
    writer.write(next(_parts([3])))
    other = pl.DataFrame({"CHROM": ["x"] * 3, "POS": [1.5, 2.5, 3.5], "AF": [0.1] * 3})
    with pytest.raises(Exception, match="(?i)schema"):
        writer.write(other)
        writer.close()
