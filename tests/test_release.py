"""`genomekit release`: the disclosure policy holds, released values are the freq values, outputs
carry no sample name, shards release like the whole, the sites BCF equals the table, errors."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from genomekit.commands import merge
from genomekit.commands import release as release_command
from genomekit.errors import InputError, UsageError
from genomekit.tables.freq import freq_schema
from tests.conftest import assert_one_error_line, cli, need_tool, run_freq

SEXES = ("XX", "XY")


# A freq table computed from individual genotypes, small enough for every count to be small.

def _draw_groups(rng, n_samples: int, n_pops: int, unassigned: float):
    pops = tuple(f"P{i}" for i in range(n_pops))
    pop = np.where(rng.random(n_samples) < unassigned, -1,
                   rng.integers(0, max(n_pops, 1), n_samples)) if n_pops else \
        np.full(n_samples, -1)
    sex = rng.choice([0, 1, 2], size=n_samples, p=[0.1, 0.45, 0.45])  # unknown, XY, XX
    return pops, pop, sex


def synthetic_sizes(seed: int, n_samples: int, n_pops: int, unassigned: float) -> dict:
    """The group sizes of ``synthetic_freq`` with these arguments (the same first draws)."""
    pops, pop, sex = _draw_groups(np.random.default_rng(seed), n_samples, n_pops, unassigned)
    return {"all": n_samples, "XX": int((sex == 2).sum()), "XY": int((sex == 1).sum()),
            **{p: int((pop == i).sum()) for i, p in enumerate(pops)}}


def sample_counts_json(sizes: dict) -> dict:
    """A freq run summary's sample counts for these group sizes (the rest unknown sex or
    without a population)."""
    pops = {g: n for g, n in sizes.items() if g not in ("all", *SEXES)}
    return {"sample_counts": {
        "total": sizes["all"],
        "sex": {"XX": sizes["XX"], "XY": sizes["XY"],
                "unknown": sizes["all"] - sizes["XX"] - sizes["XY"]},
        "population": pops, "no_population": sizes["all"] - sum(pops.values())}}


def synthetic_freq(seed: int, n_samples: int, n_pops: int, n_records: int, alpha: float,
                   unassigned: float, adj: bool) -> pl.DataFrame:
    """Diploid autosomal genotypes of ``n_samples`` drawn at random, counted as freq does.

    ``alpha`` is the Dirichlet concentration of each record's allele frequencies (small:
    one allele dominates, which may be an ALT); ``unassigned`` the share of samples without
    a population. HWE/ExcHet/InbreedingCoeff are random numbers: release only passes them on.
    """
    rng = np.random.default_rng(seed)
    pops, pop, sex = _draw_groups(rng, n_samples, n_pops, unassigned)
    groups = {"XY": sex == 1, "XX": sex == 2, **{p: pop == i for i, p in enumerate(pops)}}
    rows = []
    pos = 1000
    for r in range(n_records):
        na = int(rng.choice([2, 2, 2, 3, 4]))
        freqs = rng.dirichlet(np.full(na, alpha))
        gt = rng.choice(na, size=(n_samples, 2), p=freqs)
        called = rng.random(n_samples) >= rng.choice([0.0, 0.1, 0.4])
        passing = called & (rng.random(n_samples) < 0.85)
        het = called & (gt[:, 0] != gt[:, 1])
        pos += int(rng.integers(1, 50))
        chrom = "chr1" if r < n_records / 2 else "chr2"
        an = int(2 * called.sum())
        for a in range(1, na):
            carries = (gt == a).sum(axis=1)
            hom = called & (carries == 2)

            def ac_an(mask, carries=carries):
                return int(carries[mask].sum()), int(2 * mask.sum())

            ac = int(carries[called].sum())
            row = {"CHROM": chrom, "POS": pos, "ID": f"r{r}", "REF": "A",
                   "ALT": "CGT"[a - 1], "allele_index": a, "AC": ac, "AN": an,
                   "AF": ac / an if an else None, "n_called": int(called.sum()),
                   "n_missing": int((~called).sum()),
                   "F_MISSING": float((~called).mean()) if n_samples else None,
                   "n_het": int((het & (carries > 0)).sum()), "nhomalt": int(hom.sum()),
                   "AC_Hom": int(2 * hom.sum()), "n_hemi_alt": 0, "n_male_het": 0,
                   "HWE": float(rng.random()), "ExcHet": float(rng.random()),
                   "InbreedingCoeff": float(rng.random() - 0.5)}
            for g, members in groups.items():
                g_ac, g_an = ac_an(called & members)
                row[f"AC_{g}"], row[f"AN_{g}"] = g_ac, g_an
                row[f"AF_{g}"] = g_ac / g_an if g_an else None
                if g in pops:
                    row[f"nhomalt_{g}"] = int((hom & members).sum())
            if pops:
                afs = [row[f"AF_{p}"] for p in pops]
                best = max((x for x in afs if x is not None), default=None)
                row["grpmax"] = pops[afs.index(best)] if best is not None else None
                row["AF_grpmax"] = best
            if adj:
                g_ac, g_an = ac_an(passing)
                row["AC_adj"], row["AN_adj"] = g_ac, g_an
                row["AF_adj"] = g_ac / g_an if g_an else None
            rows.append(row)
    schema = freq_schema(pops, adj)
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


# An independent checker of a release against the freq table it came from.

def _small(x, k):
    x = np.asarray(x, dtype=float)
    return (x > 0) & (x < k)


def _records(df: pl.DataFrame) -> np.ndarray:
    key = df.select(pl.concat_str(["CHROM", pl.col("POS").cast(pl.String), "REF"],
                                  separator=":"))
    return key.to_series().to_numpy()


def check_release(freq: pl.DataFrame, rel: pl.DataFrame, summary: dict, *, k: int, n_min: int,
                  min_ac: int, af_digits: int | None, sizes: dict | None = None) -> None:
    """Assert that ``rel`` obeys the policy and equals ``freq`` wherever it publishes a value.

    ``sizes``: the number of samples of each group ("all", sexes, populations), when the
    freq run summary counts them; None: the release estimates them as max AN/2.
    """
    pops = [c[len("nhomalt_"):] for c in freq.columns if c.startswith("nhomalt_")]
    adj = "AC_adj" in freq.columns

    # Rows: those with AC >= min_ac, in order.
    kept = freq.filter(pl.col("AC") >= min_ac)
    key = ["CHROM", "POS", "REF", "ALT", "allele_index"]
    assert rel.select(key).equals(kept.select(key))

    # Groups: sizes, dropped columns, remainders.
    if sizes is None:
        assert summary["group_sizes"]["method"] == "max_AN"
        assert "max AN/2" in summary["policy"]["rules"]["group_size"]
        size = {"all": int(freq["AN"].max() or 0) // 2}
        for g in (*SEXES, *pops):
            size[g] = int(freq[f"AN_{g}"].max() or 0) // 2
    else:
        assert summary["group_sizes"]["method"] == "sample_counts"
        assert "max AN" not in summary["policy"]["rules"]["group_size"]
        size = {g: sizes[g] for g in ("all", *SEXES, *pops)}
    by_name = {g["group"]: g for g in summary["groups"]}
    assert {g: by_name[g]["n_samples"] for g in size} == size
    rel_pops = [p for p in pops if f"AC_{p}" in rel.columns]
    rel_sexes = [s for s in SEXES if f"AC_{s}" in rel.columns]
    for g in (*SEXES, *pops):
        released = g in rel_pops or g in rel_sexes
        assert by_name[g]["released"] == released
        if released:
            assert size[g] >= n_min
        else:
            assert not any(c.endswith(f"_{g}") for c in rel.columns)
    for parts in (rel_pops, rel_sexes):
        if sizes is None:
            rest = freq["AN"].to_numpy() - sum((freq[f"AN_{p}"].to_numpy() for p in parts),
                                               np.zeros(freq.height, dtype=np.int64))
            n_rest = int(rest.max()) // 2 if freq.height else 0
        else:
            n_rest = size["all"] - sum(size[p] for p in parts)
        assert n_rest == 0 or n_rest >= n_min
    assert "n_male_het" not in rel.columns

    # Values: every published value is the freq table's (frequencies rounded).
    def rounded(x):
        return None if x is None else float(f"{x:.{af_digits}g}") if af_digits else x

    af_columns = {"AF", "AF_adj", *(f"AF_{g}" for g in (*SEXES, *pops))}
    for r, f in zip(rel.iter_rows(named=True), kept.iter_rows(named=True)):
        for c, v in r.items():
            if c in ("suppressed", "suppressed_groups", "grpmax", "AF_grpmax") or v is None:
                continue
            want = rounded(f[c]) if c in af_columns else f[c]
            assert v == want, (c, r["POS"], v, want)
        afs = [(r[f"AF_{p}"], p) for p in rel_pops if r[f"AF_{p}"] is not None]
        if rel_pops:
            best = max((a for a, _ in afs), default=None)
            assert r["AF_grpmax"] == best
            assert r["grpmax"] == (next(p for a, p in afs if a == best) if afs else None)

    # Policy: no published small cell; what goes with a withheld count is withheld.
    n = rel.height
    records = _records(rel)
    full_records = _records(kept)
    freq_rows_per_record = dict(zip(*np.unique(_records(freq), return_counts=True)))
    rel_rows_per_record = dict(zip(*np.unique(records, return_counts=True)))
    whole = np.array([freq_rows_per_record[x] == rel_rows_per_record[x] for x in records],
                     dtype=bool)
    assert (records == full_records).all()

    def arr(c):
        return rel[c].to_numpy().astype(float)  # null -> nan

    def site_sum(values):
        """Σ over each record's rows (nan if any row is nan), on every row."""
        out = np.empty(n)
        for rec in np.unique(records):
            sel = records == rec
            out[sel] = values[sel].sum()
        return out

    groups = [("all", "AC", "AN", "AF", "nhomalt")]
    groups += [(s, f"AC_{s}", f"AN_{s}", f"AF_{s}", None) for s in rel_sexes]
    groups += [(p, f"AC_{p}", f"AN_{p}", f"AF_{p}", f"nhomalt_{p}") for p in rel_pops]
    if adj:
        groups.append(("adj", "AC_adj", "AN_adj", "AF_adj", None))
    flagged = {g: np.zeros(n, bool) for g, *_ in groups}
    flagged_hom = {g: np.zeros(n, bool) for g, *_ in groups}
    for g, ac_c, an_c, af_c, hom_c in groups:
        ac, an = arr(ac_c), arr(an_c)
        pub = ~np.isnan(ac)
        assert not np.isnan(an).any()
        assert not _small(ac[pub], k).any(), (g, "AC")
        assert not _small((an - ac)[pub], k).any(), (g, "AN-AC")
        ref = an - site_sum(ac)
        ok = whole & ~np.isnan(ref)
        assert not _small(ref[ok], k).any(), (g, "REF")
        assert (np.isnan(arr(af_c)) == (~pub | (an == 0))).all(), (g, "AF")
        flagged[g] = ~pub
        if hom_c:
            hom = arr(hom_c)
            assert not _small(hom[~np.isnan(hom)], k).any(), (g, "nhomalt")
            flagged_hom[g] = np.isnan(hom) & pub
    for c in ("n_het", "AC_Hom", "n_hemi_alt"):
        v = arr(c)
        assert not _small(v[~np.isnan(v)], k).any(), c
    hom_all = arr("nhomalt")
    for c in ("n_het", "AC_Hom", "n_hemi_alt", "HWE", "ExcHet", "InbreedingCoeff"):
        assert (np.isnan(arr(c)) | ~np.isnan(hom_all)).all(), c  # withheld with nhomalt
    assert (np.isnan(hom_all) | ~np.isnan(arr("AC"))).all()  # AC withheld -> genotypes too

    # Differencing: total minus the published groups of a partition has no small cell.
    total_ac, total_an = arr("AC"), arr("AN")
    partitions = [(rel_pops, True), (rel_sexes, False)] + ([(["adj"], False)] if adj else [])
    for parts, with_hom in partitions:
        cols = {p: (("AC_adj", "AN_adj", None) if p == "adj" else
                    (f"AC_{p}", f"AN_{p}", f"nhomalt_{p}")) for p in parts}
        d_ac, d_an = total_ac.copy(), total_an.copy()
        d_ref = total_an - site_sum(total_ac)
        unknown = np.zeros(n, bool)
        for ac_c, an_c, _ in cols.values():
            ac, an = arr(ac_c), arr(an_c)
            pub = ~np.isnan(ac)
            # What a reader can take away: the published parts (AN alone tells nothing of a
            # withheld part's AN - AC; a part's REF is known where all its record's AC are).
            d_ac -= np.where(pub, ac, 0)
            d_an -= np.where(pub, an, 0)
            ref = an - site_sum(ac)
            d_ref -= np.where(np.isnan(ref), 0, ref)
            unknown |= ~pub
        rest_an = total_an - sum((arr(c[1]) for c in cols.values()), np.zeros(n))
        pub = ~np.isnan(total_ac)
        assert not _small(d_ac[pub], k).any(), (parts, "difference AC")
        assert not _small((d_an - d_ac)[pub], k).any(), (parts, "difference AN-AC")
        ok = whole & ~np.isnan(d_ref)
        assert not _small(d_ref[ok], k).any(), (parts, "difference REF")
        assert (pub | unknown | (rest_an > 0)).all(), (parts, "withheld total recomputable")
        if with_hom:
            d_hom = hom_all.copy()
            unknown_hom = np.zeros(n, bool)
            for _p, (_, _, hom_c) in cols.items():
                hom = arr(hom_c)
                d_hom -= np.where(np.isnan(hom), 0, hom)
                unknown_hom |= np.isnan(hom)
            pub_hom = ~np.isnan(hom_all)
            assert not _small(d_hom[pub_hom], k).any(), (parts, "difference nhomalt")
            assert (pub_hom | unknown_hom | (rest_an > 0)).all(), (parts, "nhomalt total")

    # The flag names exactly the withheld groups.
    for i, (flag, names) in enumerate(zip(rel["suppressed"], rel["suppressed_groups"])):
        want = [g for g, *_ in groups if flagged[g][i]]
        want += [f"{g}:hom" for g, *_ in groups if flagged_hom[g][i]]
        have = names.split(",") if names else []
        assert sorted(have) == sorted(want) and flag == bool(want), (i, have, want)


def _release(tmp, freq: pl.DataFrame, name="x", sizes=None, **policy) -> tuple[pl.DataFrame,
                                                                                 dict]:
    """Release ``freq``; with ``sizes``, beside a run summary that counts the groups."""
    table = Path(tmp) / f"{name}.freq.parquet"
    freq.write_parquet(table)
    if sizes is not None:
        (Path(tmp) / f"{name}.freq.json").write_text(json.dumps(sample_counts_json(sizes)))
    summary = release_command.run([str(table)], str(Path(tmp) / name), quiet=True, force=True,
                                  **policy)
    return pl.read_parquet(Path(tmp) / f"{name}.release.parquet"), summary


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 60),
       n_pops=st.integers(0, 4), n_records=st.integers(1, 12),
       alpha=st.sampled_from([0.05, 0.3, 1.0]), unassigned=st.sampled_from([0.0, 0.0, 0.15]),
       adj=st.booleans(), k=st.integers(0, 6), n_min=st.integers(0, 25),
       min_ac=st.sampled_from([0, 0, 1, 3]), af_digits=st.sampled_from([None, 1, 3]),
       counted=st.booleans())
def test_policy_holds_on_random_tables(seed, n_samples, n_pops, n_records, alpha, unassigned,
                                       adj, k, n_min, min_ac, af_digits, counted):
    """With group sizes counted in the run summary, and estimated (no summary)."""
    freq = synthetic_freq(seed, n_samples, n_pops, n_records, alpha, unassigned, adj)
    sizes = synthetic_sizes(seed, n_samples, n_pops, unassigned) if counted else None
    for g, n in (sizes or {}).items():
        assert (freq["AN" if g == "all" else f"AN_{g}"] <= 2 * n).all(), g
    policy = {"min_cell": k, "min_group_size": n_min, "min_ac": min_ac, "af_digits": af_digits}
    with tempfile.TemporaryDirectory() as tmp:
        if (n_samples if counted else int(freq["AN"].max()) // 2) < n_min:
            with pytest.raises(InputError, match="fewer than --min-group-size"):
                _release(tmp, freq, sizes=sizes, **policy)
            return
        rel, summary = _release(tmp, freq, sizes=sizes, **policy)
        batched, _ = _release(tmp, freq, "b", sizes=sizes, batch_rows=2, **policy)
    assert_frame_equal(rel, batched)
    check_release(freq, rel, summary, k=k, n_min=n_min, min_ac=min_ac, af_digits=af_digits,
                  sizes=sizes)


def test_checker_catches_a_published_small_cell(tmp_path):
    """The property test's checker fails on a release that leaks (so it can fail)."""
    for seed in range(100):
        freq = synthetic_freq(seed, 40, 2, 12, 0.05, 0.0, False)
        rel, summary = _release(tmp_path, freq, min_cell=3, min_group_size=0)
        check_release(freq, rel, summary, k=3, n_min=0, min_ac=0, af_digits=None)
        small = rel["AC_P0"].is_null() & freq["AC_P0"].is_between(1, 2)
        if small.any():
            break
    row = int(np.argmax(small.to_numpy()))
    leaked = rel.with_columns(pl.when(pl.int_range(pl.len()) == row).then(freq["AC_P0"][row])
                              .otherwise(pl.col("AC_P0")).alias("AC_P0"))
    with pytest.raises(AssertionError):
        check_release(freq, leaked, summary, k=3, n_min=0, min_ac=0, af_digits=None)


def test_hand_made_rows():
    """Small cells, their complements and the differences, on rows worked out by hand."""
    from genomekit.tables.release import Policy, layout_of, plan_release, withheld_masks

    # Two populations A (40 samples) and B (30), no remainder, k = 5; biallelic sites.
    rows = [
        # AC, AN, nhom, AC_A, AN_A, nhom_A, AC_B, AN_B, nhom_B
        (60, 140, 10, 30, 80, 5, 30, 60, 5),  # nothing small
        (3, 140, 0, 3, 80, 0, 0, 60, 0),      # singleton-ish: all and A small, B zero
        (30, 140, 0, 28, 80, 0, 2, 60, 0),    # B small: A must go too (all - A = B)
        (138, 140, 68, 78, 80, 38, 60, 60, 30),  # REF count 2: all and A small (AN - AC)
        (60, 140, 2, 30, 80, 1, 30, 60, 1),   # nhomalt small in all, A and B
    ]
    data = []
    for i, (ac, an, hom, ac_a, an_a, hom_a, ac_b, an_b, hom_b) in enumerate(rows):
        data.append({"CHROM": "chr1", "POS": 100 + i, "ID": ".", "REF": "A", "ALT": "C",
                     "allele_index": 1, "AC": ac, "AN": an, "AF": ac / an,
                     "n_called": an // 2, "n_missing": 0, "F_MISSING": 0.0,
                     "n_het": ac - 2 * hom, "nhomalt": hom, "AC_Hom": 2 * hom,
                     "n_hemi_alt": 0, "n_male_het": 0, "HWE": 1.0, "ExcHet": 1.0,
                     "InbreedingCoeff": 0.0, "AC_XX": 0, "AN_XX": 0, "AF_XX": None,
                     "AC_XY": 0, "AN_XY": 0, "AF_XY": None,
                     "AC_A": ac_a, "AN_A": an_a, "AF_A": ac_a / an_a, "nhomalt_A": hom_a,
                     "AC_B": ac_b, "AN_B": an_b, "AF_B": ac_b / an_b, "nhomalt_B": hom_b,
                     "grpmax": None, "AF_grpmax": None})
    schema = freq_schema(("A", "B"), False)
    df = pl.DataFrame(data, schema=schema, orient="row")
    layout = layout_of(df.columns)
    sizes = {"all": 70, "XX": 0, "XY": 0, "A": 40, "B": 30}
    plan = plan_release(layout, Policy(min_group_size=20, min_cell=5), sizes,
                        lambda kind, released: 70 if kind == "sex" else 0)
    primary, final = withheld_masks(df, plan)
    allele = {g: final[(g, "allele")].tolist() for g in ("all", "A", "B")}
    geno = {g: final[(g, "genotype")].tolist() for g in ("all", "A", "B")}
    assert allele["all"] == [False, True, False, True, False]
    assert allele["B"] == [False, False, True, False, False]
    # Row 2: B = 2 is small and all - A would give it: A is withheld with it.
    assert allele["A"] == [False, True, True, True, False]
    assert primary[("A", "allele")].tolist() == [False, True, False, True, False]
    # Row 1 and 3: the total is withheld, and A with it, so all - B stays unknown.
    # Row 4: nhomalt 2, 1, 1: every genotype count goes, allele counts stay.
    assert geno["all"] == [False, True, False, True, True]
    assert geno["A"][4] and geno["B"][4]
    # Row 3: B has no REF allele (60 of 60): all its cells are 0 or >= 5; it stays.
    assert not allele["B"][3]


# The simulated cohort through freq: populations of 150, 90, 40 and 12 samples, 8 samples
# without a population, 25 of unknown sex, genotype filter for the adj columns.

@pytest.fixture(scope="module")
def released_cohort(cohort, tmp_path_factory):
    folder = tmp_path_factory.mktemp("release")
    lines = Path(cohort["pops"]).read_text().splitlines()[1:]
    names = [line.split("\t")[0] for line in lines]
    sexes = [line.split("\t")[2] for line in lines]
    pops = ["A"] * 150 + ["B"] * 90 + ["C"] * 40 + ["D"] * 12
    sheet = folder / "pops.tsv"
    sizes = {"all": len(names), "XX": 0, "XY": 0, "A": 0, "B": 0, "C": 0, "D": 0}
    with open(sheet, "w") as fh:
        fh.write("sample\tpopulation\tsex\n")
        for i, (name, pop) in enumerate(zip(names, pops)):
            sex = "unknown" if i % 12 == 0 else sexes[i]
            fh.write(f"{name}\t{pop}\t{sex}\n")
            sizes[pop] += 1
            if sex in ("F", "M"):
                sizes["XX" if sex == "F" else "XY"] += 1
    options = {"pops_file": str(sheet), "min_gq": 20}
    freq = run_freq(cohort["vcf"], folder, "whole", **options)
    shards = []
    for i, region in enumerate(("chr1", "chr2", "chrX", "chrY")):
        run_freq(cohort["vcf"], folder, f"s{i}", region=region, **options)
        shards.append(str(folder / f"s{i}.freq.parquet"))
    return {"folder": folder, "vcf": cohort["vcf"], "freq": freq, "table": str(folder / "whole.freq.parquet"),
            "shards": shards, "samples": names, "options": options, "sizes": sizes}


def _run(paths, prefix, **kwargs) -> tuple[pl.DataFrame, dict]:
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    summary = release_command.run(list(paths), str(prefix), **kwargs)
    fmt = kwargs.get("fmt", "parquet")
    path = f"{prefix}.release.{fmt}"
    if fmt == "tsv":
        return pl.read_csv(path, separator="\t", null_values="NA", infer_schema_length=None,
                           quote_char=None), summary
    return pl.read_parquet(path), summary


def test_cohort_release_obeys_policy(released_cohort, tmp_path):
    freq = released_cohort["freq"]
    for policy in ({"min_group_size": 20, "min_cell": 5},
                   {"min_group_size": 25, "min_cell": 3, "min_ac": 2, "af_digits": 3},
                   {"min_group_size": 0, "min_cell": 10}):
        rel, summary = _run([released_cohort["table"]], tmp_path / "r", **policy)
        check_release(freq, rel, summary, k=policy["min_cell"], n_min=policy["min_group_size"],
                      min_ac=policy.get("min_ac", 0), af_digits=policy.get("af_digits"),
                      sizes=released_cohort["sizes"])
        groups = {g["group"]: g for g in summary["groups"]}
        if policy["min_group_size"] == 20:
            # D (12 samples) is dropped; D and the 8 samples without a population make the
            # population remainder.
            assert [g for g, e in groups.items() if not e["released"]] == ["D"]
            assert groups["D"]["reason"] == "fewer than 20 samples"
        if policy["min_group_size"] == 25:
            # The remainder (D + unlisted, at most 20) is too small: C (40) is pooled with it.
            assert not groups["C"]["released"] and "pooled" in groups["C"]["reason"]
            assert {g for g, e in groups.items() if e["released"]} == {"all", "XX", "XY", "A",
                                                                        "B", "adj"}
            assert rel["AC"].drop_nulls().min() >= 2
        assert summary["rows"]["in"] == freq.height
        assert summary["rows"]["released"] == rel.height
        assert summary["rows"]["with_suppression"] == int(rel["suppressed"].sum()) > 0
        assert summary["rows"]["removed_min_ac"] == freq.height - rel.height
        assert summary["sites"]["in"] == 1500


def test_summary_counts_and_checksums(released_cohort, tmp_path):
    rel, summary = _run([released_cohort["table"]], tmp_path / "r", sites_vcf=True)
    import hashlib

    for entry in summary["inputs"] + summary["outputs"]:
        assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    on_disk = json.loads((tmp_path / "r.release.json").read_text())
    assert on_disk["policy"]["min_cell"] == 5 and on_disk["policy"]["min_group_size"] == 20
    assert on_disk["inputs"][0]["build"] == "GRCh38"
    assert on_disk["inputs"][0]["written_by"] == "genomekit freq"
    assert on_disk["inputs"][0]["rows"] == released_cohort["freq"].height
    for g in on_disk["groups"]:
        if not g["released"]:
            continue
        ac = rel[g["columns"][0]]
        withheld = g["allele_counts"]
        assert withheld["rows_withheld_small_cell"] + withheld["rows_withheld_complementary"] \
            == ac.null_count()
        if "genotype_counts" in g:
            hom = rel[g["genotype_counts"]["columns"][0]]
            counts = g["genotype_counts"]
            assert counts["rows_withheld_small_cell"] + counts["rows_withheld_complementary"] \
                == hom.null_count()
    assert on_disk["columns"]["released"] == rel.columns
    assert "n_male_het" in on_disk["columns"]["not_released"]
    assert {r["partition"] for r in on_disk["remainders"]} == {"sex", "population"}


def test_shards_release_like_the_whole(released_cohort, tmp_path):
    whole, s_whole = _run([released_cohort["table"]], tmp_path / "whole")
    shards, s_shards = _run(released_cohort["shards"], tmp_path / "shards")
    merge.run(released_cohort["shards"], str(tmp_path / "merged"))
    merged, s_merged = _run([str(tmp_path / "merged.freq.parquet")], tmp_path / "merged")
    assert_frame_equal(whole, shards)
    assert_frame_equal(whole, merged)
    for s in (s_shards, s_merged):
        for key in ("groups", "remainders", "rows", "sites", "columns", "policy", "build"):
            assert s[key] == s_whole[key], key
    assert s_merged["inputs"][0]["written_by"] == "genomekit merge"


def test_batches_and_tsv_input_do_not_change_results(released_cohort, tmp_path):
    base, _ = _run([released_cohort["table"]], tmp_path / "a")
    small, _ = _run([released_cohort["table"]], tmp_path / "b", batch_rows=7)
    assert_frame_equal(base, small)
    tsv_freq = tmp_path / "t.freq.tsv"
    released_cohort["freq"].write_csv(tsv_freq, separator="\t", null_value="NA")
    from_tsv, _ = _run([str(tsv_freq)], tmp_path / "c", batch_rows=50)
    assert_frame_equal(base, from_tsv)
    as_tsv, _ = _run([released_cohort["table"]], tmp_path / "d", fmt="tsv")
    assert_frame_equal(base, as_tsv, check_dtypes=False)


def test_no_sample_name_in_any_output(released_cohort, tmp_path):
    """The freq summary beside the table names every sample; no output may."""
    need_tool("bcftools")
    names = released_cohort["samples"]
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(released_cohort["table"], folder / "c.freq.parquet")
    summary = json.loads(Path(released_cohort["table"][: -len(".parquet")] + ".json").read_text())
    summary["samples"] = names
    summary["command_line"] += " --samples " + ",".join(names)
    (folder / "c.freq.json").write_text(json.dumps(summary))
    rel, out = _run([str(folder / "c.freq.parquet")], tmp_path / "r", sites_vcf=True,
                    min_group_size=0, min_cell=1)
    texts = []
    for path in sorted(tmp_path.glob("r.release.*")):
        texts.append(path.read_bytes())
    assert len(texts) == 4  # parquet, json, bcf, csi
    texts.append(subprocess.run(["bcftools", "view", str(tmp_path / "r.release.bcf")],
                                capture_output=True, check=True).stdout)
    texts.append(rel.write_csv().encode())
    for name in names:
        for blob in texts:
            assert name.encode() not in blob, name
    # The check can fail: the input summary itself does name them.
    assert names[0].encode() in (folder / "c.freq.json").read_bytes()


def test_sites_bcf_equals_table(released_cohort, tmp_path):
    need_tool("bcftools")
    rel, _ = _run([released_cohort["table"]], tmp_path / "r", sites_vcf=True, af_digits=4)
    bcf = tmp_path / "r.release.bcf"
    assert (tmp_path / "r.release.bcf.csi").exists()
    r = subprocess.run(["bcftools", "view", "-h", str(bcf)], capture_output=True, text=True,
                       check=True)
    assert "##INFO=<ID=AC_A," in r.stdout and "AC_D" not in r.stdout
    tags = {"AC": "AC", "AN": "AN", "AF": "AF", "AC_Het": "n_het", "AC_Hom": "AC_Hom",
            "AC_Hemi": "n_hemi_alt", "nhomalt": "nhomalt", "HWE": "HWE", "NS": "n_called",
            "AC_XX": "AC_XX", "AN_XY": "AN_XY", "AF_XY": "AF_XY", "AC_A": "AC_A",
            "AN_B": "AN_B", "AF_C": "AF_C", "nhomalt_A": "nhomalt_A", "AC_adj": "AC_adj",
            "AF_grpmax": "AF_grpmax", "grpmax": "grpmax"}
    fmt = "%CHROM\t%POS\t%REF\t%ALT\t" + "\t".join(f"%INFO/{t}" for t in tags) + "\n"
    out = subprocess.run(["bcftools", "query", "-f", fmt, str(bcf)], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    per_site = ("AN", "NS", "AN_XY", "AN_B")
    i = 0
    for line in out:
        fields = line.split("\t")
        alts = fields[3].split(",")
        rows = rel[i:i + len(alts)]
        assert rows["ALT"].to_list() == alts and rows["POS"][0] == int(fields[1])
        for (tag, column), text in zip(tags.items(), fields[4:]):
            values = text.split(",")
            want = rows[column].to_list()[:1] if tag in per_site else rows[column].to_list()
            assert len(values) == len(want), tag
            for v, w in zip(values, want):
                if w is None:
                    assert v == ".", (tag, line)
                elif isinstance(w, str):
                    assert v == w
                else:
                    assert float(v) == pytest.approx(w, rel=1e-5, abs=1e-12), (tag, line)
        i += len(alts)
    assert i == rel.height and rel["AC"].null_count() > 0


def test_af_digits_and_min_ac(released_cohort, tmp_path):
    freq = released_cohort["freq"]
    rel, summary = _run([released_cohort["table"]], tmp_path / "r", af_digits=2, min_ac=3,
                        min_cell=1, min_group_size=0)
    assert rel.height == freq.filter(pl.col("AC") >= 3).height < freq.height
    kept = freq.filter(pl.col("AC") >= 3)
    for c in ("AF", "AF_A", "AF_XX", "AF_adj"):
        for have, want in zip(rel[c], kept[c]):
            assert (have is None and want is None) or have == float(f"{want:.2g}")
    assert rel["AF"].drop_nulls().map_elements(lambda x: len(f"{x:g}".lstrip("0.")) <= 2,
                                               return_dtype=pl.Boolean).all()
    # min_cell 1 withholds nothing.
    assert not rel["suppressed"].any() and rel["AC"].null_count() == 0
    assert summary["sites"]["removed"] > 0


@pytest.mark.parametrize("case", ["missing_column", "sample_qc_table", "mixed_builds",
                                  "overlapping_shards", "different_populations",
                                  "cohort_too_small", "bad_min_cell", "bad_af_digits",
                                  "output_exists", "shards_of_other_samples",
                                  "counts_of_other_populations"])
def test_errors_are_one_line(released_cohort, tmp_path, case):
    folder = released_cohort["folder"]
    table = released_cohort["table"]
    args = ["release", table, "-o", "{tmp}/x"]
    code, text = 1, ""
    if case == "missing_column":
        pl.read_parquet(table).drop("nhomalt").write_parquet(tmp_path / "a.freq.parquet")
        args[1], text = str(tmp_path / "a.freq.parquet"), "not a genomekit freq table: no column"
    elif case == "sample_qc_table":
        path = tmp_path / "q.sample_qc.tsv"
        path.write_text("sample\tn_called\nS1\t10\n")
        args[1], text = str(path), "not a genomekit freq table"
    elif case == "mixed_builds":
        shard = tmp_path / "s1.freq.parquet"
        shutil.copy(released_cohort["shards"][1], shard)
        meta = json.loads((folder / "s1.freq.json").read_text())
        meta["build"] = "GRCh37"
        (tmp_path / "s1.freq.json").write_text(json.dumps(meta))
        args[1:2] = [released_cohort["shards"][0], str(shard)]
        text = "build GRCh37 differs from GRCh38"
    elif case == "overlapping_shards":
        chr1 = released_cohort["freq"].filter(pl.col("CHROM") == "chr1")
        middle = chr1["POS"][chr1.height // 2]
        chr1.filter(pl.col("POS") <= middle).write_parquet(tmp_path / "a.freq.parquet")
        chr1.filter(pl.col("POS") >= middle - 1000).write_parquet(tmp_path / "b.freq.parquet")
        args[1:2] = [str(tmp_path / "a.freq.parquet"), str(tmp_path / "b.freq.parquet")]
        text = "shards overlap"
    elif case == "different_populations":
        plain = run_freq(released_cohort["vcf"], tmp_path, "p", region="chr2")
        assert plain.height
        args[1:2] = [released_cohort["shards"][0], str(tmp_path / "p.freq.parquet")]
        text = "columns differ"
    elif case in ("shards_of_other_samples", "counts_of_other_populations"):
        shard = tmp_path / "s1.freq.parquet"
        shutil.copy(released_cohort["shards"][1], shard)
        meta = json.loads((folder / "s1.freq.json").read_text())
        counts = meta["sample_counts"]
        if case == "shards_of_other_samples":
            counts["total"] += 1
            counts["sex"]["unknown"] += 1
            counts["no_population"] += 1
            args[1:2] = [released_cohort["shards"][0], str(shard)]
            text = (f"{shard}: counts other samples per population or sex than "
                    f"{released_cohort['shards'][0]} (samples: 300 vs 301)")
        else:
            counts["population"]["E"] = counts["population"].pop("D")
            args[1] = str(shard)
            text = f"{tmp_path}/s1.freq.json: the run summary counts the populations A, B, C, E"
        (tmp_path / "s1.freq.json").write_text(json.dumps(meta))
    elif case == "cohort_too_small":
        args += ["--min-group-size", "10000"]
        text = "fewer than --min-group-size 10000"
    elif case == "bad_min_cell":
        args += ["--min-cell", "-1"]
        code, text = 2, "--min-cell must be >= 0"
    elif case == "bad_af_digits":
        args += ["--af-digits", "0"]
        code, text = 2, "--af-digits must be between 1 and 17"
    elif case == "output_exists":
        (tmp_path / "x.release.json").write_text("{}")
        code, text = 2, "exists"
        r = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "exists" in r.stderr
        assert (tmp_path / "x.release.json").read_text() == "{}"
        return
    assert_one_error_line(tmp_path, args, code, text)


def test_command_line_run(released_cohort, tmp_path):
    r = cli("release", released_cohort["table"], "-o", str(tmp_path / "c"), "--sites-vcf",
            "--af-digits", "3")
    assert r.returncode == 0, r.stderr
    assert "genomekit release:" in r.stderr and "groups dropped: D" in r.stderr
    summary = json.loads((tmp_path / "c.release.json").read_text())
    assert summary["command_line"].startswith("genomekit release ")
    assert summary["policy"]["af_digits"] == 3
    assert {Path(o["path"]).name for o in summary["outputs"]} == {
        "c.release.parquet", "c.release.bcf", "c.release.bcf.csi"}


def test_usage_checked_before_reading(tmp_path):
    with pytest.raises(UsageError, match="given twice"):
        release_command.run(["a.freq.parquet", "a.freq.parquet"], str(tmp_path / "x"))
    with pytest.raises(UsageError, match="cannot tell the format"):
        release_command.run(["a.freq.txt"], str(tmp_path / "x"))
    with pytest.raises(InputError, match="no such file"):
        release_command.run([str(tmp_path / "a.freq.parquet")], str(tmp_path / "x"))
    assert not list(tmp_path.iterdir())


def test_rounding_matches_python_formatting():
    from genomekit.tables.release import round_significant

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.random(2000), rng.random(500) * 1e-4, [0.0, 1.0, 0.5, np.nan]])
    for digits in (1, 2, 3, 6):
        got = round_significant(x, digits)
        for a, b in zip(x, got):
            if math.isnan(a):
                assert math.isnan(b)
            else:
                assert b == float(f"{a:.{digits}g}"), (a, digits)


# Group sizes: counted by freq, not seen in the table.

def _write_cohort(folder: Path, name: str, chrom: str, samples: list[tuple[str, str, str]],
                  calls) -> tuple[str, str, dict]:
    """A GT-only VCF of ``samples`` (name, population or "", sex M/F) with ``calls(site,
    sample index)`` as GT strings, its pops TSV, and the group sizes counted from the list."""
    vcf = folder / f"{name}.vcf"
    with open(vcf, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write(f"##contig=<ID={chrom},length=57227415>\n")
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
                 + "\t".join(s for s, _, _ in samples) + "\n")
        for site in range(12):
            gts = [calls(site, i) for i in range(len(samples))]
            fh.write(f"{chrom}\t{3_000_000 + 100 * site}\t.\tA\tG\t.\tPASS\t.\tGT\t"
                     + "\t".join(gts) + "\n")
    pops = folder / f"{name}.pops.tsv"
    pops.write_text("".join(f"{s}\t{p}\t{x}\n" for s, p, x in samples if p))
    sizes = {"all": len(samples), "XX": sum(x == "F" for _, _, x in samples),
             "XY": sum(x == "M" for _, _, x in samples)}
    for _, p, _ in samples:
        if p:
            sizes[p] = sizes.get(p, 0) + 1
    return str(vcf), str(pops), sizes


@pytest.fixture(scope="module")
def never_all_called(tmp_path_factory):
    """P (10 samples) and Q (20) on chr1; at every site two samples of P have no call, so
    max AN_P / 2 is 8."""
    folder = tmp_path_factory.mktemp("never_all_called")
    samples = [(f"p{i}", "P", "MF"[i % 2]) for i in range(10)]
    samples += [(f"q{i}", "Q", "MF"[i % 2]) for i in range(20)]
    rng = np.random.default_rng(3)
    alleles = rng.random((12, 30, 2)) < 0.3

    def calls(site, i):
        if i < 10 and i in (site % 10, (site + 1) % 10):
            return "./."
        return f"{int(alleles[site, i, 0])}/{int(alleles[site, i, 1])}"

    vcf, pops, sizes = _write_cohort(folder, "nac", "chr1", samples, calls)
    freq = run_freq(vcf, folder, "nac", pops_file=pops)
    return {"folder": folder, "table": str(folder / "nac.freq.parquet"), "freq": freq,
            "sizes": sizes}


def test_group_sizes_are_counted_not_seen(never_all_called, tmp_path):
    freq, sizes = never_all_called["freq"], never_all_called["sizes"]
    assert sizes["P"] == 10 and freq["AN_P"].max() // 2 == 8  # never all called at one site
    # min 10: P is as large as that, released with its 10 samples.
    rel, summary = _run([never_all_called["table"]], tmp_path / "a", min_group_size=10,
                        min_cell=3)
    groups = {g["group"]: g for g in summary["groups"]}
    assert groups["P"]["released"] and groups["P"]["n_samples"] == 10
    assert groups["Q"]["released"] and "AC_P" in rel.columns
    assert summary["group_sizes"]["method"] == "sample_counts"
    check_release(freq, rel, summary, k=3, n_min=10, min_ac=0, af_digits=None, sizes=sizes)
    # min 11: P is smaller; dropped, and Q pooled with it (a remainder of 10 samples).
    rel, summary = _run([never_all_called["table"]], tmp_path / "b", min_group_size=11,
                        min_cell=3)
    groups = {g["group"]: g for g in summary["groups"]}
    assert not groups["P"]["released"] and groups["P"]["reason"] == "fewer than 11 samples"
    assert not groups["Q"]["released"] and "pooled" in groups["Q"]["reason"]
    assert "AC_P" not in rel.columns and "AC_Q" not in rel.columns
    check_release(freq, rel, summary, k=3, n_min=11, min_ac=0, af_digits=None, sizes=sizes)


def test_group_sizes_fallback_warns_once_and_works(never_all_called, released_cohort,
                                                   tmp_path, capsys):
    """Tables whose run summary does not count the groups: sizes are max AN/2 (P: 8)."""
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(never_all_called["table"], old / "nac.freq.parquet")
    meta = json.loads((never_all_called["folder"] / "nac.freq.json").read_text())
    del meta["sample_counts"]
    (old / "nac.freq.json").write_text(json.dumps(meta))
    rel, summary = _run([str(old / "nac.freq.parquet")], tmp_path / "a", min_group_size=10,
                        min_cell=3, quiet=False)
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "max AN/2" in warnings[0] and "nac.freq.parquet" in warnings[0]
    groups = {g["group"]: g for g in summary["groups"]}
    assert not groups["P"]["released"] and groups["P"]["n_samples"] == 8
    on_disk = json.loads((tmp_path / "a.release.json").read_text())
    assert on_disk["group_sizes"]["method"] == "max_AN"
    assert "max AN/2" in on_disk["policy"]["rules"]["group_size"]
    check_release(never_all_called["freq"], rel, summary, k=3, n_min=10, min_ac=0,
                  af_digits=None)
    # Shards without a summary: one warning for the run, and the release of the whole table
    # estimated the same way.
    shards = []
    for i, path in enumerate(released_cohort["shards"]):
        shards.append(str(old / f"s{i}.freq.parquet"))
        shutil.copy(path, shards[-1])
    whole = old / "whole.freq.parquet"
    shutil.copy(released_cohort["table"], whole)
    from_shards, s_shards = _run(shards, tmp_path / "s", quiet=False)
    err = capsys.readouterr().err
    assert err.count("genomekit: warning:") == 1 and "s0.freq.parquet" in err
    from_whole, s_whole = _run([str(whole)], tmp_path / "w")
    assert_frame_equal(from_shards, from_whole)
    assert s_shards["groups"] == s_whole["groups"]
    check_release(released_cohort["freq"], from_whole, s_whole, k=5, n_min=20, min_ac=0,
                  af_digits=None)


def test_haploid_only_table_counts_its_samples(tmp_path):
    """chrY: males have one allele each, so max AN/2 is half the males."""
    samples = [(f"m{i}", "Y1", "M") for i in range(12)]
    samples += [(f"f{i}", "Y1", "F") for i in range(12)]
    rng = np.random.default_rng(4)
    alt = rng.random((12, 24)) < 0.4

    def calls(site, i):
        return str(int(alt[site, i])) if i < 12 else "."

    vcf, pops, sizes = _write_cohort(tmp_path, "y", "chrY", samples, calls)
    freq = run_freq(vcf, tmp_path, "y", pops_file=pops)
    assert freq["AN_XY"].max() == 12 and freq["AN"].max() // 2 == 6
    rel, summary = _run([str(tmp_path / "y.freq.parquet")], tmp_path / "r", min_group_size=10,
                        min_cell=3)
    groups = {g["group"]: g for g in summary["groups"]}
    assert groups["XY"]["released"] and groups["XY"]["n_samples"] == 12
    assert groups["all"]["n_samples"] == 24 and groups["Y1"]["n_samples"] == 24
    check_release(freq, rel, summary, k=3, n_min=10, min_ac=0, af_digits=None, sizes=sizes)
    # Estimated from the table, the cohort would be 6 samples: nothing could be released.
    (tmp_path / "y.freq.json").unlink()
    with pytest.raises(InputError, match="the cohort has 6 samples, fewer than"):
        _run([str(tmp_path / "y.freq.parquet")], tmp_path / "e", min_group_size=10)
