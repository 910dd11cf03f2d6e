"""The two error types the CLI turns into one line and an exit status."""

from __future__ import annotations


class GenomekitError(Exception):
    """Base class: carries a location (file, chrom, pos) and a hint."""

    exit_code = 1

    def __init__(self, what: str, *, file: str | None = None, chrom: str | None = None,
                 pos: int | None = None, hint: str | None = None):
        super().__init__(what)
        self.what = what
        self.file = file
        self.chrom = chrom
        self.pos = pos
        self.hint = hint

    def location(self) -> str:
        parts = [str(p) for p in (self.file, self.chrom, self.pos) if p is not None]
        return ":".join(parts)

    def message(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.what}" if loc else self.what
        if self.hint:
            text += f" — {self.hint}"
        return text


class InputError(GenomekitError):
    """The input data is unreadable or inconsistent (exit status 1)."""

    exit_code = 1


class UsageError(GenomekitError):
    """The command line asks for something impossible (exit status 2)."""

    exit_code = 2
