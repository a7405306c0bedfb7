"""A :class:`~agent.analytics.charts.Chart` drawn as SVG with matplotlib (Agg, no pyplot).

The same chart gives the same bytes (no date in the file, a fixed id salt), text stays
text (``svg.fonttype`` none), the file names nothing outside itself and carries no CSS
(:func:`~agent.analytics.svg.without_css`: a strict Content Security Policy draws it as
it is). matplotlib's settings are global, so drawing holds a lock: the web server draws
from several threads.
"""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from agent.analytics.charts import Chart
from agent.analytics.svg import without_css
from agent.analytics.tables import display

COLORS = ("#1a5fb4", "#e66100")
"""Blue and orange: told apart with the common colour-vision deficiencies."""
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_LOCK = threading.Lock()


def _number(value: Decimal | int | None) -> float:
    return float(value) if value is not None else 0.0


def _bars(axes: Axes, chart: Chart) -> None:
    count = len(chart.series)
    width = 0.8 / count
    positions = range(len(chart.categories))
    for index, series in enumerate(chart.series):
        offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
        values = [_number(v) for v in series.values]
        draw = axes.barh if chart.horizontal else axes.bar
        bars = draw(offsets, values, width, label=series.name, color=COLORS[index % 2])
        axes.bar_label(bars, labels=[display(v, chart.unit) for v in series.values],
                       padding=2, fontsize=8)
    ticks = axes.set_yticks if chart.horizontal else axes.set_xticks
    ticks(list(positions), list(chart.categories))
    if chart.horizontal:
        axes.invert_yaxis()  # the first category on top, as in the table
        axes.margins(x=0.2)
    else:
        axes.margins(y=0.2)
    if count > 1:
        axes.legend(frameon=False, loc="best")


def svg(chart: Chart) -> str:
    """The chart as a standalone SVG document."""
    rows = max(len(chart.categories), 1)
    height = 1.2 + (0.32 * rows * len(chart.series) if chart.horizontal else 2.2)
    with _LOCK, matplotlib.rc_context({
            "svg.fonttype": "none", "svg.hashsalt": "appeals-report",
            "font.family": "sans-serif", "font.size": 9.0, "axes.spines.top": False,
            "axes.spines.right": False}):
        figure = Figure(figsize=(7.0, min(height, 9.0)), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(chart.title, loc="left", fontsize=11)
        if chart.has_data:
            _bars(axes, chart)
        else:
            axes.set_axis_off()
            axes.text(0.5, 0.5, chart.empty.capitalize() + ".", ha="center", va="center",
                      transform=axes.transAxes)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata=_METADATA)
    return without_css(out.getvalue())
