"""The workbench's dashboard (``/dashboard``): the report's KPIs, charts and tables.

Any signed-in user may see it: it shows aggregates only (no claim, patient or member id);
each view is an audit row like every page. It reads the same KPIs and tables as
``appeals report`` (:mod:`agent.application.reports`), so the two cannot disagree. Its
charts are separate SVG responses, shown with ``<img alt>`` beside the table of the same
numbers, drawn from the same KPIs, which are computed once for a short while (a page asks
for its charts right after it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from agent.analytics.charts import CHARTS, Chart, charts
from agent.analytics.kpis import Kpis, compute_kpis
from agent.analytics.settings import ReportSettings
from agent.analytics.tables import KeyFigure, ReportTable, key_figures, report_tables
from agent.application.accounts import AccountService
from agent.application.workbench import NotFound
from agent.store.protocols import Store
from agent.store.records import UserRecord


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The dashboard page: the key figures, the charts and the tables of the report."""

    kpis: Kpis
    figures: tuple[KeyFigure, ...]
    tables: tuple[ReportTable, ...]
    """Every table but the key figures' own."""
    charts: dict[str, Chart]
    """Each chart by the name of the table it draws."""


class DashboardService:
    """The dashboard over a store: the report's KPIs on the workbench's today.

    The KPIs are computed once and kept ``fresh_for`` seconds (one page asks for its
    charts right after it), per report date.
    """

    def __init__(self, store: Store, accounts: AccountService, today: Callable[[], date],
                 settings: ReportSettings | None = None, fresh_for: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.accounts = accounts
        self.today = today
        self.settings = settings or ReportSettings()
        self.fresh_for = fresh_for
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[date, float, Kpis] | None = None

    def kpis(self) -> Kpis:
        """The KPIs on today, computed again when the kept ones are older than fresh_for."""
        as_of, now = self.today(), self.clock()
        with self._lock:
            kept = self._kept
            if kept is not None and kept[0] == as_of and now - kept[1] < self.fresh_for:
                return kept[2]
            kpis = compute_kpis(self.store, as_of, self.settings)
            self._kept = (as_of, now, kpis)
            return kpis

    def dashboard(self, user: UserRecord) -> Dashboard:
        """The dashboard for any signed-in user; the view is audited (aggregates, no PHI)."""
        self.accounts.record_view(user, "dashboard (aggregates)", subject="dashboard")
        kpis = self.kpis()
        tables = tuple(t for t in report_tables(kpis) if t.name != "summary")
        return Dashboard(kpis, key_figures(kpis), tables,
                         {c.table: c for c in charts(kpis)})

    def chart_svg(self, user: UserRecord, name: str) -> str:
        """One chart of the dashboard as an SVG document.

        Raises:
            NotFound: there is no chart of that name.
        """
        if name not in CHARTS:
            raise NotFound(f"no chart named {name}")
        from agent.analytics.plot import svg

        (chart,) = charts(self.kpis(), (name,))
        return svg(chart)
