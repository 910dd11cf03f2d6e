"""Small inline SVG charts drawn in Python: scatter, density grid and bar charts.

The report must open without a network and without running any code to draw its plots, so
each chart is plain SVG markup. Values are turned into pixel coordinates here and nowhere
else; callers pass the table columns unchanged (numpy float arrays, NaN for missing).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Above this many points a scatter layer becomes a density grid: an SVG element per point
# would make a cohort-scale report (millions of sites, tens of millions of pairs) unusable.
MAX_POINTS = 6000
GRID_COLUMNS = 70
GRID_ROWS = 45

# Colour-blind-safe categorical palette (Okabe-Ito without its vermillion, which marks
# failures, then Tableau's extra hues for cohorts with many populations).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C564B", "#7F7F7F",
           "#BCBD22", "#17BECF", "#9467BD", "#F0E442", "#000000")
FAIL_COLOR = "#D62728"
MUTED = "#9A9A9A"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt_value(value: object) -> str:
    """A table value for display: integers as they are, floats to 6 significant digits."""
    if value is None:
        return "NA"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        return "NA" if math.isnan(v) else f"{v:.6g}"
    return str(value)


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.6g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten apart) in [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9:
        ticks.append(round(k * step, 12))
        k += 1
    return ticks


@dataclass(frozen=True)
class Scale:
    """A linear or log10 mapping of [lo, hi] onto [0, 1]."""

    lo: float
    hi: float
    log: bool = False

    def frac(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        span = hi - lo
        return (v - lo) / span if span > 0 else np.full(v.shape, 0.5)

    def ticks(self) -> list[float]:
        if not self.log:
            return nice_ticks(self.lo, self.hi)
        return [10.0 ** k for k in range(math.ceil(math.log10(self.lo) - 1e-9),
                                          math.floor(math.log10(self.hi) + 1e-9) + 1)]


def data_scale(values, *, include: Sequence[float] = (), pad: float = 0.05,
               log: bool = False, lo: float | None = None, hi: float | None = None) -> Scale:
    """A scale covering the finite ``values`` and ``include``, padded by ``pad`` of the span.

    ``lo``/``hi`` fix an end (e.g. 0 and 1 for frequencies). With no finite value the
    scale is [0, 1].
    """
    v = np.asarray(values, dtype=np.float64)
    extra = np.asarray([x for x in include if x is not None and math.isfinite(x)],
                       dtype=np.float64)
    v = np.concatenate([v[np.isfinite(v)], extra])
    if log:
        v = v[v > 0]
        if v.size == 0:
            return Scale(lo or 1.0, hi or 10.0, log=True)
        a, b = float(v.min()), float(v.max())
        return Scale(lo if lo is not None else a / 1.6, hi if hi is not None else b * 1.6,
                     log=True)
    if v.size == 0:
        return Scale(0.0 if lo is None else lo, 1.0 if hi is None else hi)
    a, b = float(v.min()), float(v.max())
    span = b - a if b > a else (abs(a) * 0.1 or 1.0)
    a0 = lo if lo is not None else a - pad * span
    b0 = hi if hi is not None else b + pad * span
    if b0 <= a0:
        b0 = a0 + 1.0
    return Scale(a0, b0)


def grid_counts(x, y, xscale: Scale, yscale: Scale, columns: int = GRID_COLUMNS,
                rows: int = GRID_ROWS) -> np.ndarray:
    """Number of points in each cell of a ``rows`` × ``columns`` grid over the two scales.

    Row 0 is the bottom of the plot. Points with a missing coordinate or outside the
    scales are not counted; a point on the upper edge belongs to the last cell.
    """
    fx = xscale.frac(x)
    fy = yscale.frac(y)
    ok = np.isfinite(fx) & np.isfinite(fy) & (fx >= 0) & (fx <= 1) & (fy >= 0) & (fy <= 1)
    ix = np.minimum((fx[ok] * columns).astype(np.int64), columns - 1)
    iy = np.minimum((fy[ok] * rows).astype(np.int64), rows - 1)
    counts = np.zeros((rows, columns), dtype=np.int64)
    np.add.at(counts, (iy, ix), 1)
    return counts


def _r(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if v == v else "0"


@dataclass
class Figure:
    """One plot: axes, then layers drawn in the order they are added."""

    x: Scale
    y: Scale
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    width: int = 460
    height: int = 320
    xticks: list[tuple[float, str]] | None = None
    yticks: list[tuple[float, str]] | None = None
    left: int = 62
    right: int = 14
    top: int = 30
    bottom: int = 46
    layers: list[str] = field(default_factory=list)

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    def px(self, values) -> np.ndarray:
        return self.x.frac(values) * self.plot_width

    def py(self, values) -> np.ndarray:
        return (1.0 - self.y.frac(values)) * self.plot_height

    def points(self, x, y, *, color: str | Sequence[str], r: float = 2.6,
               titles: Sequence[str] | None = None, samples: Sequence[str] | None = None,
               css: str = "pt", stroke: str | None = None, opacity: float = 0.8) -> int:
        """Circles at (x, y); returns how many were drawn (points with a missing value are not).

        ``titles`` (tooltips) is a sequence or a function of the point's index, so that
        large layers build only the strings they draw. ``samples`` tags each circle with
        data-s, which the page's script uses to highlight one sample in every plot.
        """
        px, py = self.px(x), self.py(y)
        ok = np.flatnonzero(np.isfinite(px) & np.isfinite(py))
        colors = [color] * len(px) if isinstance(color, str) else list(color)
        stroke_attr = f' stroke="{stroke}" stroke-width="1.4"' if stroke else ""
        parts = [f'<g class="{css}" fill-opacity="{opacity}"{stroke_attr}>']
        for i in ok.tolist():
            attrs = f' data-s="{esc(samples[i])}"' if samples is not None else ""
            tip = ""
            if titles is not None:
                tip = f"<title>{esc(titles(i) if callable(titles) else titles[i])}</title>"
            parts.append(f'<circle cx="{_r(px[i])}" cy="{_r(py[i])}" r="{r}" '
                         f'fill="{colors[i]}"{attrs}>{tip}</circle>')
        parts.append("</g>")
        self.layers.append("".join(parts))
        return len(ok)

    def density(self, x, y, *, color: str = "#444444", noun: str = "points") -> int:
        """Shaded grid cells (opacity by log count); returns how many points they hold."""
        counts = grid_counts(x, y, self.x, self.y)
        rows, columns = counts.shape
        w, h = self.plot_width / columns, self.plot_height / rows
        top = max(int(counts.max()), 1)
        parts = [f'<g class="density" fill="{color}">']
        for iy, ix in zip(*np.nonzero(counts)):
            n = int(counts[iy, ix])
            alpha = 0.15 + 0.85 * math.log1p(n) / math.log1p(top)
            parts.append(f'<rect x="{_r(ix * w)}" y="{_r((rows - 1 - iy) * h)}" '
                         f'width="{_r(w + 0.3)}" height="{_r(h + 0.3)}" '
                         f'fill-opacity="{alpha:.2f}"><title>{n} {noun}</title></rect>')
        parts.append("</g>")
        self.layers.append("".join(parts))
        return int(counts.sum())

    def scatter(self, x, y, *, emphasis=None, color: str | Sequence[str] = "#555555",
                titles=None, samples=None, noun: str = "points", r: float = 2.6) -> str:
        """Points, or a density grid when there are more than MAX_POINTS.

        ``emphasis`` (boolean array) marks points always drawn as circles, even above
        the limit. Returns a sentence for the caption when a grid was used.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n_defined = int((np.isfinite(self.px(x)) & np.isfinite(self.py(y))).sum())
        if n_defined <= MAX_POINTS:
            self.points(x, y, color=color, titles=titles, samples=samples, r=r)
            return ""
        keep = np.asarray(emphasis, dtype=bool) if emphasis is not None else np.zeros(len(x),
                                                                                     bool)
        colors = np.asarray([color] * len(x) if isinstance(color, str) else color, dtype=object)
        in_grid = 0
        # One grid per colour, so that populations or sexes stay apart in the shading.
        for c in dict.fromkeys(colors[~keep].tolist()):
            sel = ~keep & (colors == c)
            in_grid += self.density(x[sel], y[sel], color=c, noun=noun)
        if keep.any():
            idx = np.flatnonzero(keep)
            point_colors = color if isinstance(color, str) else [color[i] for i in idx]
            tips = None
            if callable(titles):
                tips = [titles(i) for i in idx.tolist()]
            elif titles is not None:
                tips = [titles[i] for i in idx.tolist()]
            self.points(x[idx], y[idx], color=point_colors, titles=tips,
                        samples=[samples[i] for i in idx] if samples is not None else None,
                        r=r)
        return (f"{in_grid:,} {noun} are drawn as a density grid (shade: log count per "
                f"cell; hover a cell for its count).")

    def line(self, x, y, *, color: str, width: float = 1.6, title: str | None = None,
              sample: str | None = None, dash: str | None = None, opacity: float = 0.9) -> bool:
        """A polyline through the points with both values defined; False when none is."""
        px, py = self.px(x), self.py(y)
        ok = np.isfinite(px) & np.isfinite(py)
        if not ok.any():
            return False
        points = " ".join(f"{_r(a)},{_r(b)}" for a, b in zip(px[ok].tolist(), py[ok].tolist()))
        attrs = f' data-s="{esc(sample)}"' if sample is not None else ""
        if dash:
            attrs += f' stroke-dasharray="{dash}"'
        tip = f"<title>{esc(title)}</title>" if title else ""
        self.layers.append(f'<polyline class="ln" points="{points}" fill="none" '
                           f'stroke="{color}" stroke-width="{width}" stroke-opacity="{opacity}"'
                           f'{attrs}>{tip}</polyline>')
        return True

    def band(self, x, lo, hi, *, color: str, opacity: float = 0.18, title: str = "") -> None:
        """The area between two curves over the same x."""
        px, plo, phi = self.px(x), self.py(lo), self.py(hi)
        ok = np.isfinite(px) & np.isfinite(plo) & np.isfinite(phi)
        if not ok.any():
            return
        xs = px[ok].tolist()
        upper = [f"{_r(a)},{_r(b)}" for a, b in zip(xs, phi[ok].tolist())]
        lower = [f"{_r(a)},{_r(b)}" for a, b in zip(xs[::-1], plo[ok][::-1].tolist())]
        tip = f"<title>{esc(title)}</title>" if title else ""
        self.layers.append(f'<polygon points="{" ".join(upper + lower)}" fill="{color}" '
                           f'fill-opacity="{opacity}" stroke="none">{tip}</polygon>')

    def hline(self, y: float, *, color: str = "#666666", dash: str = "4 3",
              x0: float | None = None, x1: float | None = None, label: str = "") -> None:
        yy = float(self.py([y])[0])
        if not math.isfinite(yy) or yy < 0 or yy > self.plot_height:
            return
        a = 0.0 if x0 is None else float(self.px([x0])[0])
        b = self.plot_width if x1 is None else float(self.px([x1])[0])
        tip = f"<title>{esc(label)}</title>" if label else ""
        self.layers.append(f'<line x1="{_r(a)}" x2="{_r(b)}" y1="{_r(yy)}" y2="{_r(yy)}" '
                           f'stroke="{color}" stroke-dasharray="{dash}">{tip}</line>')

    def vline(self, x: float, *, color: str = "#666666", dash: str = "4 3",
              label: str = "") -> None:
        xx = float(self.px([x])[0])
        if not math.isfinite(xx) or xx < 0 or xx > self.plot_width:
            return
        tip = f"<title>{esc(label)}</title>" if label else ""
        self.layers.append(f'<line x1="{_r(xx)}" x2="{_r(xx)}" y1="0" '
                           f'y2="{_r(self.plot_height)}" stroke="{color}" '
                           f'stroke-dasharray="{dash}">{tip}</line>')

    def hband(self, y0: float, y1: float, *, color: str, opacity: float = 0.12,
              label: str = "") -> None:
        """A horizontal band between two y values, with an optional label at its right."""
        a, b = self.py([y0, y1])
        a = min(max(float(a), 0.0), self.plot_height)
        b = min(max(float(b), 0.0), self.plot_height)
        if a == b:
            return
        top, bottom = min(a, b), max(a, b)
        self.layers.append(f'<rect x="0" y="{_r(top)}" width="{_r(self.plot_width)}" '
                           f'height="{_r(bottom - top)}" fill="{color}" '
                           f'fill-opacity="{opacity}"/>')
        if label and bottom - top > 11:
            self.layers.append(f'<text x="{_r(self.plot_width - 4)}" y="{_r(top + 11)}" '
                               f'text-anchor="end" class="band-label">{esc(label)}</text>')

    def diagonal(self) -> None:
        lo = max(self.x.lo, self.y.lo)
        hi = min(self.x.hi, self.y.hi)
        if hi <= lo:
            return
        (x0, x1), (y0, y1) = self.px([lo, hi]), self.py([lo, hi])
        self.layers.append(f'<line x1="{_r(x0)}" y1="{_r(y0)}" x2="{_r(x1)}" y2="{_r(y1)}" '
                           'stroke="#888888" stroke-dasharray="2 3"/>')

    def _axes(self) -> str:
        w, h = self.plot_width, self.plot_height
        out = [f'<rect class="frame" x="0" y="0" width="{_r(w)}" height="{_r(h)}"/>']
        xt = self.xticks if self.xticks is not None else [(t, _tick_label(t))
                                                           for t in self.x.ticks()]
        yt = self.yticks if self.yticks is not None else [(t, _tick_label(t))
                                                           for t in self.y.ticks()]
        for value, label in xt:
            xx = float(self.px([value])[0])
            if 0 <= xx <= w + 0.01:
                out.append(f'<line class="tick" x1="{_r(xx)}" x2="{_r(xx)}" y1="{_r(h)}" '
                           f'y2="{_r(h + 4)}"/><text x="{_r(xx)}" y="{_r(h + 16)}" '
                           f'text-anchor="middle">{esc(label)}</text>')
        for value, label in yt:
            yy = float(self.py([value])[0])
            if -0.01 <= yy <= h + 0.01:
                out.append(f'<line class="grid" x1="0" x2="{_r(w)}" y1="{_r(yy)}" '
                           f'y2="{_r(yy)}"/><text x="-6" y="{_r(yy + 4)}" '
                           f'text-anchor="end">{esc(label)}</text>')
        out.append(f'<text class="axis-label" x="{_r(w / 2)}" y="{_r(h + 36)}" '
                   f'text-anchor="middle">{esc(self.xlabel)}</text>')
        out.append(f'<text class="axis-label" transform="translate({-self.left + 14},'
                   f'{_r(h / 2)}) rotate(-90)" text-anchor="middle">{esc(self.ylabel)}</text>')
        return "".join(out)

    def svg(self) -> str:
        w, h = self.plot_width, self.plot_height
        # Layers go in a nested <svg>, which clips whatever falls outside the plot area.
        return (f'<svg class="chart" viewBox="0 0 {self.width} {self.height}" '
                f'width="{self.width}" height="{self.height}" role="img" '
                f'aria-label="{esc(self.title)}">'
                f'<text class="chart-title" x="{self.left}" y="18">{esc(self.title)}</text>'
                f'<g transform="translate({self.left},{self.top})">'
                f'<g class="under">{self._axes()}</g>'
                f'<svg x="0" y="0" width="{_r(w)}" height="{_r(h)}" '
                f'viewBox="0 0 {_r(w)} {_r(h)}" overflow="hidden">'
                f'{"".join(self.layers)}</svg></g></svg>')


def bar_chart(labels: Sequence[str], values: Sequence[int], *, title: str, xlabel: str,
              ylabel: str, log: bool = True, color: str = "#0072B2",
              tips: Sequence[str] | None = None, width: int = 700, height: int = 320) -> str:
    """Vertical bars over categories; on a log axis a zero count draws no bar."""
    vals = np.asarray(values, dtype=np.float64)
    if log:
        positive = vals[vals > 0]
        top = float(positive.max()) if positive.size else 10.0
        # Half of 1 as the floor, so that a count of 1 still shows a bar.
        scale = Scale(0.5, max(top * 1.8, 10.0), log=True)
    else:
        scale = data_scale(vals, lo=0.0, pad=0.08)
    fig = Figure(Scale(0.0, float(len(labels))), scale, title=title, xlabel=xlabel,
                 ylabel=ylabel, width=width, height=height,
                 xticks=[(i + 0.5, label) for i, label in enumerate(labels)])
    slot = fig.plot_width / max(len(labels), 1)
    base = fig.plot_height
    parts = [f'<g class="bars" fill="{color}">']
    for i, v in enumerate(vals.tolist()):
        if v <= 0 and log:
            continue
        top_px = float(fig.py([v])[0])
        tip = esc(tips[i]) if tips is not None else f"{esc(labels[i])}: {int(v):,}"
        parts.append(f'<rect x="{_r(i * slot + slot * 0.12)}" y="{_r(top_px)}" '
                     f'width="{_r(slot * 0.76)}" height="{_r(base - top_px)}">'
                     f'<title>{tip}</title></rect>')
        parts.append(f'<text class="bar-value" x="{_r(i * slot + slot / 2)}" '
                     f'y="{_r(max(top_px - 3, 9))}" text-anchor="middle">{int(v):,}</text>')
    parts.append("</g>")
    fig.layers.append("".join(parts))
    return fig.svg()


def grouped_bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]], *,
                      title: str, xlabel: str, ylabel: str, log: bool = True,
                      width: int = 700, height: int = 320) -> str:
    """Bars of several series side by side in each category: ``series`` is (name, values,
    colour) each; on a log axis a zero count draws no bar."""
    vals = np.asarray([list(v) for _, v, _ in series], dtype=np.float64).reshape(len(series),
                                                                                len(labels))
    if log:
        positive = vals[vals > 0]
        top = float(positive.max()) if positive.size else 10.0
        scale = Scale(0.5, max(top * 1.8, 10.0), log=True)
    else:
        scale = data_scale(vals.ravel(), lo=0.0, pad=0.08)
    fig = Figure(Scale(0.0, float(len(labels))), scale, title=title, xlabel=xlabel,
                 ylabel=ylabel, width=width, height=height,
                 xticks=[(i + 0.5, label) for i, label in enumerate(labels)])
    slot = fig.plot_width / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    base = fig.plot_height
    for k, (name, _, color) in enumerate(series):
        parts = [f'<g class="bars" fill="{color}">']
        for i, v in enumerate(vals[k].tolist()):
            if v <= 0 and log:
                continue
            top_px = float(fig.py([v])[0])
            parts.append(f'<rect x="{_r(i * slot + slot * 0.1 + k * bar)}" y="{_r(top_px)}" '
                         f'width="{_r(bar * 0.92)}" height="{_r(base - top_px)}">'
                         f'<title>{esc(labels[i])}: {esc(name)} {int(v):,}</title></rect>')
        parts.append("</g>")
        fig.layers.append("".join(parts))
    return fig.svg()
