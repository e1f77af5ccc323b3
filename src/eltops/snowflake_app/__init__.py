"""The Orchestra Data App as a Snowflake Native App (the app's files live in ``snowflake_app/`` at the repo root).

:mod:`eltops.snowflake_app.orchestra_app` holds the Python handlers the app runs inside Snowflake. It imports only
the standard library (Snowflake's sandbox has no eltops, httpx, stamina or orjson), so the app ships that one file;
its table declarations are generated from :mod:`eltops.orchestra._records` by :mod:`eltops.snowflake_app._generate`
(``python -m eltops.snowflake_app._generate``), and a test fails when they drift apart.
"""
