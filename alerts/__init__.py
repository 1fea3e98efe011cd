"""alerts: metric points → rules → alert state → outbox → channels.

- :mod:`alerts.rules` — does a complete window breach a rule (pure)
- :mod:`alerts.state` — the alert lifecycle inactive → pending → firing → resolved (pure)
- :mod:`alerts.evaluation` — ``evaluate_window`` / ``evaluate_due``: load, decide, save
- :mod:`alerts.repeats` — repeat notifications, orphaned alerts
- :mod:`alerts.outbox` — the ``notifications`` table: enqueue, claim, settle
- :mod:`alerts.delivery` — delivery stages (mute, route per channel, retry)
- :mod:`alerts.dispatcher` — ``Dispatcher``: claims due rows and runs the stages
- :mod:`alerts.silences` — silences; :mod:`alerts.cli` — ``driftwatch alerts …``
- :mod:`alerts.service` — ``AlertService``: catch-up evaluation + dispatcher loop
- :mod:`alerts.channels` — Slack, email, webhook
"""

__all__: list[str] = []
