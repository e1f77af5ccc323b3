"""The Orchestra Data App as a Snowflake Native App (the app's files live in ``snowflake_app/`` at the repo root).

:mod:`eltops.snowflake_app.orchestra_app` holds the Python handlers the app runs inside Snowflake: only the
Snowflake glue (secret, HTTP over urllib, SQL, entry points). The paging, windows, load plan and cursor, column
declarations and mapping are eltops' own :mod:`eltops.orchestra._plan` and :mod:`eltops.orchestra._records`, and the
retry policy and error reading are :mod:`eltops._retry` and :mod:`eltops._api_errors`, which all import only the
standard library; :mod:`eltops.snowflake_app._generate` (``python -m eltops.snowflake_app._generate``) copies the
handlers and those modules into ``snowflake_app/python/`` and writes the tables' DDL into the setup script, and
the tests fail when a copy differs from its source.
"""

__all__: list[str] = []  # its modules are the API: the handler module, and the generator run with python -m
