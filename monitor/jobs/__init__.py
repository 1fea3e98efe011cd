"""monitor/jobs: the scheduled computation of every model's vitals, window by window.

- :mod:`~monitor.jobs.windows` — tumbling UTC-aligned windows (pure);
- :mod:`~monitor.jobs.due` — which windows are due, and what a scheduler remembers (pure);
- :mod:`~monitor.jobs.reference` — the stored baseline of each model version;
- :mod:`~monitor.jobs.window_metrics` — every metric of a window (pure assembly), its drift
  groups in :mod:`~monitor.jobs.window_drift`, what they read in :mod:`~monitor.jobs.window_input`;
- :mod:`~monitor.jobs.compute_window` — the job: load → compute → save;
- :mod:`~monitor.jobs.scheduler` — :class:`~monitor.jobs.scheduler.WindowScheduler`
  and :func:`~monitor.jobs.scheduler.run_schedule` (``driftwatch schedule``);
- :mod:`~monitor.jobs.offline_drift` — ``driftwatch drift`` on two files.

Submodules are imported on demand, so ``import monitor.jobs.windows`` stays light.
"""
