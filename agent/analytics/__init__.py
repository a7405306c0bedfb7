"""The numbers a billing team manages denials by, and what would prevent them.

Computed from the store's grouped totals (:mod:`agent.store.analytics`), never from the
denials' records one by one; docs/kpis.md defines every figure:

- :mod:`~agent.analytics.rates`: denial rates by payer (claims and dollars) and the
  first-pass resolution rate, over the claims read from 835s;
- :mod:`~agent.analytics.mix`: the top denial reasons by count and by dollars, the
  clinical, administrative and preventable shares, the root causes;
- :mod:`~agent.analytics.aging`: A/R aging of open denials and the appeals due soon;
- :mod:`~agent.analytics.overturns`: what sent appeals won, by playbook, payer, reason;
- :mod:`~agent.analytics.throughput`: the auditors' reviews per day and draft-to-approval
  time, from the audit trail;
- :mod:`~agent.analytics.prevention`: front-end fixes for the preventable patterns;
- :mod:`~agent.analytics.kpis` gathers them; :mod:`~agent.analytics.tables` lays them out
  as the tables every view shows (report, CSV, dashboard); :mod:`~agent.analytics.charts`
  draws them (matplotlib, SVG); :mod:`~agent.analytics.render` writes the report page.
"""
