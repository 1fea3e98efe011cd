"""The driftwatch dashboard: a read-only Streamlit app over the store.

``app.py`` is the entry point (``driftwatch dashboard`` runs it); the pages live in
``views/`` (not ``pages/``: Streamlit would run a script from a ``pages/`` folder on
its own for a deep link that opens a fresh server, without ``app.py``'s navigation).
Everything that decides what to show (health, drift strength, chart frames, time
ranges, links) is a pure function in its own module so it can be tested without
Streamlit; ``queries.py`` is the only module that reads the store.
"""
