"""Sample sheets: population and sex of each sample."""

from __future__ import annotations

import re
from dataclasses import dataclass

from genomekit.errors import InputError, UsageError
from genomekit.genome import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN

_SEX_CODES = {
    "m": SEX_MALE, "male": SEX_MALE, "xy": SEX_MALE, "1": SEX_MALE,
    "f": SEX_FEMALE, "female": SEX_FEMALE, "xx": SEX_FEMALE, "2": SEX_FEMALE,
    "u": SEX_UNKNOWN, "unknown": SEX_UNKNOWN, "0": SEX_UNKNOWN, "na": SEX_UNKNOWN,
    ".": SEX_UNKNOWN, "": SEX_UNKNOWN, "nan": SEX_UNKNOWN,
}
_POP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class SampleSheet:
    """Population and sex per sample name, and the population names in first-seen order."""

    population: dict[str, str]
    sex: dict[str, int]
    populations: tuple[str, ...]


def read_pops(path: str) -> SampleSheet:
    """Read a TSV of ``sample  population  sex`` (header line optional; sex M/F/unknown)."""
    population: dict[str, str] = {}
    sex: dict[str, int] = {}
    order: dict[str, None] = {}  # populations, first seen first, each checked once
    try:
        fh = open(path)
    except OSError as e:
        raise UsageError(f"cannot read population file: {e.strerror}", file=path) from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\r\n").split("\t")
            if lineno == 1 and cols[0].lower() in ("sample", "iid", "sample_id", "id"):
                continue
            if len(cols) < 2:
                raise InputError(f"line {lineno}: expected SAMPLE<TAB>POPULATION[<TAB>SEX]",
                                 file=path, hint="separate the columns with tabs")
            name, pop = cols[0].strip(), cols[1].strip()
            code = cols[2].strip().lower() if len(cols) > 2 else ""
            if code not in _SEX_CODES:
                raise InputError(f"line {lineno}: unknown sex '{cols[2]}'", file=path,
                                 hint="use M, F or unknown")
            if pop not in order and not _POP_NAME.match(pop):
                raise InputError(f"line {lineno}: population '{pop}' is not a valid tag suffix",
                                 file=path, hint="use letters, digits, '_', '.' or '-'")
            if name in population:
                raise InputError(f"line {lineno}: sample '{name}' listed twice", file=path,
                                 hint="list each sample once")
            population[name] = pop
            sex[name] = _SEX_CODES[code]
            order.setdefault(pop, None)
    if not population:
        raise InputError("no samples listed", file=path,
                         hint="give a TSV of SAMPLE<TAB>POPULATION<TAB>SEX lines")
    return SampleSheet(population, sex, tuple(order))
