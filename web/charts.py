"""Charts as inline SVG, drawn on the server: no JavaScript library, no CDN, printable.

Each chart carries a <title> and <desc> for screen readers; the page shows the same numbers
in a table beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

_ids = itertools.count(1)


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    n = next(_ids)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart{n}-t chart{n}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _nice_max(value: int) -> int:
    """Return a round axis maximum at or above `value` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def column_chart(points: Sequence[tuple[str, int]], *, title: str, desc: str) -> Markup:
    """Return vertical bars over time (calls per day); labels thinned to stay readable."""
    width, height = 960, 240
    left, right, top, bottom = 36, 8, 14, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((v for _, v in points), default=0))
    n = max(1, len(points))
    slot = plot_w / n
    bar = max(1.0, slot * 0.72)
    every = max(1, round(n / 10))
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{width - right}" y2="{top}" '
        'stroke-dasharray="3 3"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(points):
        h = plot_h * value / peak
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h - h
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'rx="2"><title>{escape(label)}: {value}</title></rect>'
        )
        if i % every == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return _svg(width, height, title, desc, body)


def bar_chart(
    rows: Sequence[tuple[str, int]],
    *,
    title: str,
    desc: str,
    limit: int = 10,
    others: str = "…",
) -> Markup:
    """Return horizontal bars for categories (topic, department, area), largest first."""
    shown = list(rows[:limit])
    rest = sum(v for _, v in rows[limit:])
    if rest:
        shown.append((others, rest))
    width, row_h, label_w = 560, 26, 210
    height = max(row_h, row_h * len(shown)) + 8
    peak = max((v for _, v in shown), default=0) or 1
    plot_w = width - label_w - 48
    body: list[str] = []
    for i, (label, value) in enumerate(shown):
        y = 4 + i * row_h
        w = plot_w * value / peak
        short = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(short)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" '
            f'height="{row_h - 9}" rx="3"><title>{escape(label)}: {value}</title></rect>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 16}">{value}</text>'
        )
    if not shown:
        body.append(f'<text x="8" y="18">{escape(desc)}</text>')
    return _svg(width, height, title, desc, body)


def share_bar(met: int, counted: int, *, title: str, desc: str) -> Markup:
    """Return one bar split into the share met and the share missed."""
    width, height = 960, 30
    ratio = met / counted if counted else 0.0
    body = [
        f'<rect x="0" y="4" width="{width}" height="22" rx="6" fill="#f4c7c3"/>',
        f'<rect class="bar-alt" x="0" y="4" width="{width * ratio:.1f}" height="22" rx="6"/>',
    ]
    return _svg(width, height, title, desc, body)
