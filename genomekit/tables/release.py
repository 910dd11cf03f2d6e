"""The release table: a freq table with a disclosure policy applied.

The policy, for a table that is to leave the cohort:

1. **Groups.** Every population (``AC_<pop>``...), each sex (``AC_XX``, ``AC_XY``), the
   filtered counts (``AC_adj``) and the whole cohort (``AC``) is a group of samples. Its size
   is the number of samples in it, as freq counted them from its samples and ``--pops`` (the
   ``sample_counts`` of its run summary); for a table whose summary does not count them, the
   largest number of samples with a call in it at one site (max ``AN_g`` / 2), which is
   smaller where the group's samples are never all called at one site (haploid calls count
   half). A population or sex smaller than ``min_group_size`` has its columns dropped. The
   samples that no released population (or sex) covers — dropped groups, samples without a
   population or of unknown sex — form the *remainder*, whose counts anyone can compute as the
   total minus the released groups; when it is not empty but smaller than ``min_group_size``,
   the smallest released group is dropped too, until the remainder is empty or large enough.
2. **Cells.** The counts of a group at an ALT allele are its cells: the allele count ``AC``,
   its complement ``AN − AC`` (samples' other alleles: at a biallelic site the REF count), the
   REF count of the site ``AN − ΣAC`` and ``nhomalt``; the whole cohort also has ``n_het``,
   ``AC_Hom`` and ``n_hemi_alt``. A cell with ``0 < count < min_cell`` is small, and the group's
   counts at that row are withheld (null): its ``AC``, ``AF`` and ``nhomalt`` — for the whole
   cohort also ``n_het``, ``AC_Hom``, ``n_hemi_alt`` and ``HWE``, ``ExcHet``,
   ``InbreedingCoeff``, which are functions of the genotype counts. ``AN`` stays: it is not
   a count of carriers. A REF cell is a cell of every row of its site.
3. **Complementary withholding.** The populations (and the remainder) add up to the total, as
   do the sexes and the remainder, and the filtered and failed calls. For each of these
   partitions and each row, what is not published — the withheld groups and the remainder —
   can be computed as the total minus the published groups, so that difference must itself
   have no small cell: otherwise the smallest released group that changes a small cell of it is
   withheld too, until none is small. When the total is withheld, at least one of the other
   terms must be unknown too (a withheld group or a remainder with calls at the row).
4. **Rows.** ``min_ac`` removes rows whose cohort ``AC`` is below it (the decision is made
   before any withholding). ``af_digits`` rounds every frequency to that many significant
   digits. ``grpmax``/``AF_grpmax`` are taken over the published population frequencies.
   Only the columns listed in ``release_schema`` are written; ``n_male_het`` (a count of male
   heterozygous calls, a QC measure) and any column the freq table does not define are not.

Each row carries ``suppressed`` (any group withheld) and ``suppressed_groups`` (their names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from genomekit.tables.freq import ADJ_SCHEMA, BASE_SCHEMA, freq_schema

ALL = "all"
SEXES = ("XX", "XY")
ADJ = "adj"

KEY_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "allele_index")
# Cohort-wide columns released as they are (site-level, no carrier counts).
SITE_COLUMNS = ("AN", "n_called", "n_missing", "F_MISSING")
# Whole-cohort genotype counts (cells) and the statistics computed from them.
ALL_CELLS = ("nhomalt", "n_het", "AC_Hom", "n_hemi_alt")
ALL_DERIVED = ("HWE", "ExcHet", "InbreedingCoeff")
# Columns of a freq table that a release never carries, with the reason.
NOT_RELEASED = {"n_male_het": "a count of male heterozygous calls (QC), not a frequency"}


@dataclass(frozen=True)
class Policy:
    """The disclosure policy; the defaults are those of ``genomekit release``."""

    min_group_size: int = 20
    min_cell: int = 5
    min_ac: int = 0
    af_digits: int | None = None

    def as_dict(self) -> dict:
        return {"min_group_size": self.min_group_size, "min_cell": self.min_cell,
                "min_ac": self.min_ac, "af_digits": self.af_digits}


@dataclass(frozen=True)
class FreqLayout:
    """What a freq table holds: its populations and whether it has the adj columns."""

    populations: tuple[str, ...]
    adj: bool

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return freq_schema(self.populations, self.adj)


def layout_of(columns: list[str]) -> FreqLayout:
    """The layout of a table with these columns; ValueError naming the first column that
    does not fit a genomekit freq table."""
    for c in BASE_SCHEMA:
        if c not in columns:
            raise ValueError(f"no column {c}")
    pops = tuple(c[3:] for c in columns
                 if c.startswith("AC_") and f"nhomalt_{c[3:]}" in columns)
    layout = FreqLayout(pops, "AC_adj" in columns)
    expected = list(layout.schema)
    for i, (have, want) in enumerate(zip(columns, expected)):
        if have != want:
            raise ValueError(f"column {i + 1} is {have}, where a freq table has {want}")
    if len(columns) != len(expected):
        extra = columns[len(expected):] or expected[len(columns):]
        raise ValueError(f"{abs(len(columns) - len(expected))} column(s) more or fewer than a "
                         f"freq table with these populations ({extra[0]})")
    return layout


@dataclass(frozen=True)
class Group:
    """A group of samples and its columns in the freq table."""

    name: str
    kind: str  # "all" | "population" | "sex" | "adj"
    ac: str
    an: str
    af: str
    hom: str | None = None
    # Further genotype cells (whole cohort only), and the columns withheld with them.
    cells: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()

    def allele_columns(self) -> tuple[str, ...]:
        """Nulled where the group's allele counts are withheld."""
        return (self.ac, self.af)

    def genotype_columns(self) -> tuple[str, ...]:
        """Nulled where the group's genotype counts are withheld."""
        return (self.hom, *self.cells, *self.derived) if self.hom else ()


def all_group() -> Group:
    return Group(ALL, "all", "AC", "AN", "AF", "nhomalt", cells=("n_het", "AC_Hom", "n_hemi_alt"),
                 derived=ALL_DERIVED)


def population_group(pop: str) -> Group:
    return Group(pop, "population", f"AC_{pop}", f"AN_{pop}", f"AF_{pop}", f"nhomalt_{pop}")


def sex_group(sex: str) -> Group:
    return Group(sex, "sex", f"AC_{sex}", f"AN_{sex}", f"AF_{sex}")


def adj_group() -> Group:
    return Group(ADJ, "adj", "AC_adj", "AN_adj", "AF_adj")


def candidate_groups(layout: FreqLayout) -> list[Group]:
    """Every group of a freq table, in column order: all, sexes, populations, adj."""
    groups = [all_group(), *(sex_group(s) for s in SEXES),
              *(population_group(p) for p in layout.populations)]
    if layout.adj:
        groups.append(adj_group())
    return groups


@dataclass(frozen=True)
class GroupDecision:
    group: Group
    n_samples: int
    released: bool
    reason: str | None = None


@dataclass(frozen=True)
class Partition:
    """Released groups that, with the remainder, add up to the whole cohort.

    ``parts`` are ordered by size, smallest first: the order in which they are chosen for
    complementary withholding. ``with_hom``: their genotype counts add up too.
    """

    kind: str
    parts: tuple[Group, ...]
    n_remainder: int
    with_hom: bool


@dataclass(frozen=True)
class ReleasePlan:
    policy: Policy
    layout: FreqLayout
    decisions: tuple[GroupDecision, ...]
    partitions: tuple[Partition, ...] = field(default=())

    @property
    def released(self) -> tuple[Group, ...]:
        return tuple(d.group for d in self.decisions if d.released)

    def released_populations(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.released if g.kind == "population")

    def schema(self) -> dict[str, pl.DataType]:
        return release_schema(self.layout, {g.name for g in self.released})


def release_schema(layout: FreqLayout, released: set[str]) -> dict[str, pl.DataType]:
    """Columns and dtypes of the release table for these released group names."""
    src = layout.schema
    cols = [*KEY_COLUMNS, "AC", "AN", "AF", "n_called", "n_missing", "F_MISSING",
            "n_het", "nhomalt", "AC_Hom", "n_hemi_alt", *ALL_DERIVED]
    for sex in SEXES:
        if sex in released:
            cols += [f"AC_{sex}", f"AN_{sex}", f"AF_{sex}"]
    pops = [p for p in layout.populations if p in released]
    for pop in pops:
        cols += [f"AC_{pop}", f"AN_{pop}", f"AF_{pop}", f"nhomalt_{pop}"]
    if pops:
        cols += ["grpmax", "AF_grpmax"]
    if layout.adj and ADJ in released:
        cols += list(ADJ_SCHEMA)
    schema = {c: src[c] for c in cols}
    schema["suppressed"] = pl.Boolean
    schema["suppressed_groups"] = pl.String
    return schema


def size_columns(layout: FreqLayout) -> dict[str, str]:
    """Group name -> its AN column, for the groups whose size decides their release."""
    return {ALL: "AN", **{s: f"AN_{s}" for s in SEXES},
            **{p: f"AN_{p}" for p in layout.populations}}


def nested_releases(kind_groups: list[str], sizes: dict[str, int], policy: Policy) -> list[list[str]]:
    """The candidate released sets of one partition, largest first: the groups of at least
    ``min_group_size`` samples, then that set without its smallest group, and so on."""
    keep = [g for g in kind_groups if sizes[g] >= policy.min_group_size]
    order = sorted(keep, key=lambda g: (sizes[g], kind_groups.index(g)))
    out = [keep]
    for g in order:
        keep = [x for x in keep if x != g]
        out.append(keep)
    return out


def plan_release(layout: FreqLayout, policy: Policy, sizes: dict[str, int],
                 remainder_sizes) -> ReleasePlan:
    """Decide which groups are released.

    ``sizes``: group name -> number of samples (or its estimate, max AN / 2) for ALL, the
    sexes and the populations.
    ``remainder_sizes(kind, released)``: the size of the remainder of partition ``kind``
    ("population" or "sex") when ``released`` are the released groups.
    Raises ValueError when the whole cohort is smaller than the minimum group size.
    """
    if sizes[ALL] < policy.min_group_size:
        raise ValueError(f"the cohort has {sizes[ALL]} samples, fewer than "
                         f"--min-group-size {policy.min_group_size}")
    decisions: dict[str, GroupDecision] = {}
    partitions = []
    for kind, names in (("sex", list(SEXES)), ("population", list(layout.populations))):
        chosen, n_rem = names[:0], 0
        for released in nested_releases(names, sizes, policy):
            n_rem = remainder_sizes(kind, released)
            chosen = released
            if n_rem == 0 or n_rem >= policy.min_group_size:
                break
        for name in names:
            group = sex_group(name) if kind == "sex" else population_group(name)
            n = sizes[name]
            if name in chosen:
                decisions[name] = GroupDecision(group, n, True)
            elif n < policy.min_group_size:
                decisions[name] = GroupDecision(
                    group, n, False, f"fewer than {policy.min_group_size} samples")
            else:
                decisions[name] = GroupDecision(
                    group, n, False, f"pooled with smaller groups so that the {kind} remainder "
                    f"(total minus released {kind} groups) has 0 or at least "
                    f"{policy.min_group_size} samples")
        parts = sorted((decisions[n].group for n in chosen),
                       key=lambda g: (sizes[g.name], names.index(g.name)))
        partitions.append(Partition(kind, tuple(parts), n_rem, kind == "population"))
    ordered = [GroupDecision(all_group(), sizes[ALL], True)]
    ordered += [decisions[s] for s in SEXES]
    ordered += [decisions[p] for p in layout.populations]
    if layout.adj:
        ordered.append(GroupDecision(adj_group(), sizes[ALL], True))
        partitions.append(Partition("adj", (adj_group(),), 0, False))
    return ReleasePlan(policy, layout, tuple(ordered), tuple(partitions))


_POW10 = np.array([float(10**i) for i in range(23)])  # exact doubles


def round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    """Round to ``digits`` significant digits, exactly as ``float(f"{v:.{digits}g}")`` does
    (NaN stays NaN, 0 stays 0).

    Vectorized for values whose scaled product is exact enough to decide the rounding; the
    near-ties, values near a power of 10 and values above 1 or below 1e-22 take the slow path.
    """
    out = np.array(x, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(out) & (out != 0))
    v = out[ok].copy()
    with np.errstate(divide="ignore"):
        lg = np.log10(np.abs(v))
    mag = np.floor(lg).astype(np.int64)
    m = digits - 1 - mag
    scale = _POW10[np.clip(m, 0, len(_POW10) - 1)]
    y = v * scale
    fraction = np.abs(y - np.trunc(y))
    slow = ((m < 0) | (m >= len(_POW10)) | (np.abs(lg - np.round(lg)) < 1e-9)
            | (np.abs(fraction - 0.5) <= 4 * np.spacing(np.abs(y))))
    out[ok] = np.round(y) / scale
    for i, value in zip(ok[slow], v[slow]):
        out[i] = float(f"{value:.{digits}g}")
    return out


class _Rows:
    """The count arrays of one batch of freq rows, and its record structure."""

    def __init__(self, df: pl.DataFrame, min_cell: int):
        self.df = df
        self.n = df.height
        self.k = min_cell
        starts = df["allele_index"].to_numpy() == 1
        self.start_index = np.flatnonzero(starts)
        self.record = np.cumsum(starts) - 1

    def col(self, name: str) -> np.ndarray:
        return self.df[name].to_numpy().astype(np.int64)

    def small(self, x: np.ndarray) -> np.ndarray:
        return (x > 0) & (x < self.k)

    def site_ref(self, ac: np.ndarray, an: np.ndarray) -> np.ndarray:
        """AN − ΣAC over the record's ALT alleles, on every row of the record."""
        if not self.n:
            return an - ac
        return an - np.add.reduceat(ac, self.start_index)[self.record]

    def any_in_record(self, mask: np.ndarray) -> np.ndarray:
        if not self.n:
            return mask
        return np.maximum.reduceat(mask.astype(np.int8), self.start_index)[self.record] > 0


# The two families of cells. Allele cells: AC, AN − AC and the site's REF count; withheld
# together as the group's AC and AF. Genotype cells: nhomalt (and for the whole cohort n_het,
# AC_Hom, n_hemi_alt); withheld together as those columns (and HWE, ExcHet, InbreedingCoeff).
ALLELE, GENOTYPE = "allele", "genotype"


class _Term:
    """The counts of one group, or of a sum of groups, at every row."""

    def __init__(self, rows: _Rows, ac, an, hom):
        self.ac, self.an, self.hom = ac, an, hom
        self.ref = rows.site_ref(ac, an)

    @classmethod
    def of(cls, rows: _Rows, g: Group) -> _Term:
        hom = rows.col(g.hom) if g.hom else np.zeros(rows.n, dtype=np.int64)
        return cls(rows, rows.col(g.ac), rows.col(g.an), hom)

    def __sub__(self, other: _Term) -> _Term:
        out = object.__new__(_Term)
        out.ac, out.an = self.ac - other.ac, self.an - other.an
        out.hom, out.ref = self.hom - other.hom, self.ref - other.ref
        return out


def _small_cells(rows: _Rows, family: str, ac, an, ref, hom) -> dict[str, np.ndarray]:
    if family == ALLELE:
        return {"ac": rows.small(ac), "other": rows.small(an - ac), "ref": rows.small(ref)}
    return {"hom": rows.small(hom)}


def _primary(rows: _Rows, g: Group, family: str) -> np.ndarray:
    """Rows where a cell of ``family`` of group ``g`` is small."""
    t = _Term.of(rows, g)
    if family == ALLELE:
        small = _small_cells(rows, ALLELE, t.ac, t.an, t.ref, t.hom)
        # A small REF cell of the site is a cell of each of its rows.
        return small["ac"] | small["other"] | rows.any_in_record(small["ref"])
    mask = rows.small(t.hom)
    for c in g.cells:
        mask |= rows.small(rows.col(c))
    return mask


def _complement(rows: _Rows, part: Partition, family: str, withheld: dict[str, np.ndarray],
                total_withheld: np.ndarray) -> None:
    """Withhold further parts of ``part`` (masks changed in place) until no unpublished sum of
    ``family`` cells is small.

    The unpublished sum is Σ withheld parts + remainder = total − Σ published parts, which a
    reader can compute wherever the total is published. For its REF cell a part counts as
    withheld when it is withheld at any row of the record (its REF count is then unknown).
    Where the total is withheld, another term must be unknown: a withheld part, or a remainder
    with calls at the row.
    """
    total = _Term.of(rows, all_group())
    terms = [_Term.of(rows, g) for g in part.parts]
    remainder = total
    for t in terms:
        remainder = remainder - t
    masks = [withheld[g.name] for g in part.parts]
    n = rows.n
    for _ in range(len(terms) * n + 2):
        d = {"ac": remainder.ac.copy(), "an": remainder.an.copy(), "ref": remainder.ref.copy(),
             "hom": remainder.hom.copy()}
        for t, m in zip(terms, masks):
            in_record = rows.any_in_record(m)
            d["ac"] += np.where(m, t.ac, 0)
            d["an"] += np.where(m, t.an, 0)
            d["hom"] += np.where(m, t.hom, 0)
            d["ref"] += np.where(in_record, t.ref, 0)
        small = _small_cells(rows, family, d["ac"], d["an"], d["ref"], d["hom"])
        need = ~total_withheld & np.any(np.vstack(list(small.values())), axis=0)
        none_withheld = ~np.any(np.vstack(masks), axis=0) if masks else np.ones(n, bool)
        need_total = total_withheld & none_withheld & (remainder.an == 0)
        if not (need.any() or need_total.any()):
            return
        chosen = np.zeros(n, dtype=bool)
        for t, m in zip(terms, masks):
            own = {"ac": t.ac, "other": t.an - t.ac, "ref": t.ref, "hom": t.hom}
            helps = np.zeros(n, dtype=bool)
            for cell, is_small in small.items():
                helps |= is_small & (own[cell] > 0)
            pick = ~m & ~chosen & ((need & helps) | (need_total & (t.an > 0)))
            m |= pick
            chosen |= pick
        if not chosen.any():
            raise RuntimeError("complementary withholding found no group to withhold")
    raise RuntimeError("complementary withholding did not converge")


@dataclass
class BatchStats:
    """Counts of one batch, added up over the run: rows, and per (group, family) the rows
    withheld for a small cell of the group's own and for a complementary reason."""

    rows_in: int = 0
    rows_removed_min_ac: int = 0
    primary: dict[tuple[str, str], int] = field(default_factory=dict)
    complementary: dict[tuple[str, str], int] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)

    def add(self, other: BatchStats) -> None:
        self.rows_in += other.rows_in
        self.rows_removed_min_ac += other.rows_removed_min_ac
        for mine, theirs in ((self.primary, other.primary),
                             (self.complementary, other.complementary),
                             (self.values, other.values)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


def withheld_masks(df: pl.DataFrame, plan: ReleasePlan) -> tuple[dict, dict]:
    """(primary, final) masks: {(group, family): bool array over the rows} for a batch of
    whole records."""
    rows = _Rows(df, plan.policy.min_cell)
    released = plan.released
    primary = {}
    for g in released:
        primary[(g.name, ALLELE)] = _primary(rows, g, ALLELE)
        if g.hom:
            primary[(g.name, GENOTYPE)] = _primary(rows, g, GENOTYPE)
    # Withheld cohort allele counts would follow from its genotype counts (AC = n_het +
    # AC_Hom + n_hemi_alt), so those go with them.
    primary[(ALL, GENOTYPE)] = primary[(ALL, GENOTYPE)] | primary[(ALL, ALLELE)]
    final = {key: m.copy() for key, m in primary.items()}
    for part in plan.partitions:
        allele = {g.name: final[(g.name, ALLELE)] for g in part.parts}
        _complement(rows, part, ALLELE, allele, final[(ALL, ALLELE)])
        if part.with_hom:
            geno = {g.name: final[(g.name, GENOTYPE)] for g in part.parts}
            _complement(rows, part, GENOTYPE, geno, final[(ALL, GENOTYPE)])
    return primary, final


def apply_policy(df: pl.DataFrame, plan: ReleasePlan) -> tuple[pl.DataFrame, BatchStats]:
    """The release rows of a batch of freq rows (whole records) and the batch's counts."""
    policy = plan.policy
    primary, final = withheld_masks(df, plan)
    keep = df["AC"].to_numpy() >= policy.min_ac if policy.min_ac > 0 else \
        np.ones(df.height, dtype=bool)
    stats = BatchStats(rows_in=df.height, rows_removed_min_ac=int((~keep).sum()))
    updates = []
    labels: list[np.ndarray] = []
    for g in plan.released:
        for family, columns, label in ((ALLELE, g.allele_columns(), g.name),
                                       (GENOTYPE, g.genotype_columns(), f"{g.name}:hom")):
            if (g.name, family) not in final:
                continue
            m = final[(g.name, family)]
            p = primary[(g.name, family)]
            stats.primary[(g.name, family)] = int((p & keep).sum())
            stats.complementary[(g.name, family)] = int((m & ~p & keep).sum())
            stats.values[g.name] = stats.values.get(g.name, 0) + int((m & keep).sum()) * len(columns)
            mask = pl.Series(m)
            updates += [pl.when(mask).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
            if family == GENOTYPE:
                m = m & ~final[(g.name, ALLELE)]  # the group's name already says it all
            labels.append(np.where(m, label, None))
    out = df.with_columns(updates) if updates else df
    names = [",".join(x for x in row if x) for row in zip(*labels)] if labels else []
    flags = np.array([bool(x) for x in names], dtype=bool)
    out = out.with_columns(pl.Series("suppressed", flags, dtype=pl.Boolean),
                           pl.Series("suppressed_groups", [x or None for x in names],
                                     dtype=pl.String))
    if policy.af_digits is not None:
        out = out.with_columns(
            pl.Series(g.af, round_significant(out[g.af].to_numpy(allow_copy=True).astype(float),
                                              policy.af_digits)).fill_nan(None)
            for g in plan.released)
    pops = plan.released_populations()
    if pops:
        out = out.with_columns(_grpmax(out, pops))
    out = out.filter(pl.Series(keep))
    return out.select(plan.schema().keys()).cast(plan.schema()), stats


def _grpmax(df: pl.DataFrame, pops: tuple[str, ...]) -> list[pl.Series]:
    """grpmax/AF_grpmax over the published population frequencies (first population on ties,
    as freq chooses)."""
    afs = np.vstack([df[f"AF_{p}"].to_numpy(allow_copy=True).astype(float) for p in pops])
    has = ~np.all(np.isnan(afs), axis=0)
    best = np.zeros(df.height, dtype=np.int64)
    if has.any():
        best[has] = np.nanargmax(afs[:, has], axis=0)
    names = np.asarray(pops, dtype=object)[best]
    value = np.where(has, afs[best, np.arange(df.height)], np.nan)
    return [pl.Series("grpmax", np.where(has, names, None).tolist(), dtype=pl.String),
            pl.Series("AF_grpmax", value).fill_nan(None)]
