-- The Orchestra Data App's setup script. Snowflake runs it on every install and every upgrade, so every
-- statement is idempotent: data objects are created only when missing, code is replaced.

CREATE APPLICATION ROLE IF NOT EXISTS app_public;

-- Data: a normal schema, so the loaded rows and the load state survive upgrades.
CREATE SCHEMA IF NOT EXISTS public;
GRANT USAGE ON SCHEMA public TO APPLICATION ROLE app_public;

-- BEGIN GENERATED TABLES (python -m eltops.snowflake_app._generate; do not edit)
CREATE TABLE IF NOT EXISTS public.pipeline_runs (
    id VARCHAR NOT NULL,
    pipeline_id VARCHAR,
    pipeline_name VARCHAR,
    account_id VARCHAR,
    env_id VARCHAR,
    env_name VARCHAR,
    run_status VARCHAR,
    message VARCHAR,
    created_at TIMESTAMP_TZ,
    updated_at TIMESTAMP_TZ,
    completed_at TIMESTAMP_TZ,
    started_at TIMESTAMP_TZ,
    branch VARCHAR,
    commit VARCHAR,
    pipeline_version_number NUMBER(38,0),
    loaded_at TIMESTAMP_TZ,
    has_anomalies BOOLEAN,
    anomalies VARIANT,
    triggered_by VARIANT,
    child_pipeline_runs VARIANT,
    git_link VARCHAR,
    extra VARIANT
);
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS has_anomalies BOOLEAN;
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS anomalies VARIANT;
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS triggered_by VARIANT;
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS child_pipeline_runs VARIANT;
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS git_link VARCHAR;
ALTER TABLE public.pipeline_runs ADD COLUMN IF NOT EXISTS extra VARIANT;
CREATE TABLE IF NOT EXISTS public.task_runs (
    id VARCHAR NOT NULL,
    pipeline_run_id VARCHAR,
    task_name VARCHAR,
    task_id VARCHAR,
    account_id VARCHAR,
    pipeline_id VARCHAR,
    integration VARCHAR,
    integration_job VARCHAR,
    status VARCHAR,
    message VARCHAR,
    external_status VARCHAR,
    external_message VARCHAR,
    platform_link VARCHAR,
    task_parameters VARIANT,
    run_parameters VARIANT,
    connection_id VARCHAR,
    number_of_attempts NUMBER(38,0),
    created_at TIMESTAMP_TZ,
    updated_at TIMESTAMP_TZ,
    completed_at TIMESTAMP_TZ,
    started_at TIMESTAMP_TZ,
    loaded_at TIMESTAMP_TZ,
    depends_on VARIANT,
    matrix_parent BOOLEAN,
    matrix_parent_id VARCHAR,
    compute_resource_id VARCHAR,
    extra VARIANT
);
ALTER TABLE public.task_runs ADD COLUMN IF NOT EXISTS depends_on VARIANT;
ALTER TABLE public.task_runs ADD COLUMN IF NOT EXISTS matrix_parent BOOLEAN;
ALTER TABLE public.task_runs ADD COLUMN IF NOT EXISTS matrix_parent_id VARCHAR;
ALTER TABLE public.task_runs ADD COLUMN IF NOT EXISTS compute_resource_id VARCHAR;
ALTER TABLE public.task_runs ADD COLUMN IF NOT EXISTS extra VARIANT;
CREATE TABLE IF NOT EXISTS public.operations (
    id VARCHAR NOT NULL,
    account_id VARCHAR,
    pipeline_run_id VARCHAR,
    task_run_id VARCHAR,
    inserted_at TIMESTAMP_TZ,
    message VARCHAR,
    operation_name VARCHAR,
    operation_status VARCHAR,
    operation_type VARCHAR,
    external_status VARCHAR,
    external_detail VARCHAR,
    external_id VARCHAR,
    integration VARCHAR,
    integration_job VARCHAR,
    started_at TIMESTAMP_TZ,
    completed_at TIMESTAMP_TZ,
    dependencies VARIANT,
    operation_duration FLOAT,
    rows_affected NUMBER(38,0),
    loaded_at TIMESTAMP_TZ,
    cost FLOAT,
    currency VARCHAR,
    credits FLOAT,
    credits_label VARCHAR,
    final_cost_amount FLOAT,
    final_cost_currency VARCHAR,
    raw_cost_amount FLOAT,
    raw_cost_label VARCHAR,
    raw_cost_integration VARCHAR,
    raw_cost_units VARCHAR,
    asset_external_id VARCHAR,
    tags VARIANT,
    meta VARIANT,
    can_rerun BOOLEAN,
    extra VARIANT
);
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS cost FLOAT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS currency VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS credits FLOAT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS credits_label VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS final_cost_amount FLOAT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS final_cost_currency VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS raw_cost_amount FLOAT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS raw_cost_label VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS raw_cost_integration VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS raw_cost_units VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS asset_external_id VARCHAR;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS tags VARIANT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS meta VARIANT;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS can_rerun BOOLEAN;
ALTER TABLE public.operations ADD COLUMN IF NOT EXISTS extra VARIANT;
CREATE TABLE IF NOT EXISTS public.assets (
    id VARCHAR NOT NULL,
    account_id VARCHAR,
    asset_name VARCHAR,
    asset_type VARCHAR,
    integration VARCHAR,
    integration_asset_type VARCHAR,
    integration_account_id VARCHAR,
    database_name VARCHAR,
    schema_name VARCHAR,
    table_name VARCHAR,
    workspace_name VARCHAR,
    workspace_id VARCHAR,
    external_id VARCHAR,
    connection VARCHAR,
    connection_integration VARCHAR,
    status VARCHAR,
    created_at TIMESTAMP_TZ,
    updated_at TIMESTAMP_TZ,
    last_successful_run TIMESTAMP_TZ,
    upstream_dependencies VARIANT,
    downstream_dependencies VARIANT,
    freshness_config VARIANT,
    row_count NUMBER(38,0),
    bytes NUMBER(38,0),
    owner VARCHAR,
    owners VARIANT,
    description VARCHAR,
    url VARCHAR,
    created_in_integration VARCHAR,
    last_updated_in_integration VARCHAR,
    usage_percentage FLOAT,
    meta VARIANT,
    extra VARIANT,
    loaded_at TIMESTAMP_TZ
);
CREATE TABLE IF NOT EXISTS public.eltops_schema_version (version INTEGER NOT NULL, eltops_version VARCHAR, upgraded_at TIMESTAMP_TZ);
INSERT INTO public.eltops_schema_version SELECT 2, '0.1.0', CURRENT_TIMESTAMP() WHERE NOT EXISTS (SELECT 1 FROM public.eltops_schema_version WHERE version >= 2);
CREATE TABLE IF NOT EXISTS public.eltops_load_state (resource VARCHAR, table_name VARCHAR, cursor TIMESTAMP_TZ, saved_at TIMESTAMP_TZ);
GRANT SELECT ON TABLE public.pipeline_runs TO APPLICATION ROLE app_public;
GRANT SELECT ON TABLE public.task_runs TO APPLICATION ROLE app_public;
GRANT SELECT ON TABLE public.operations TO APPLICATION ROLE app_public;
GRANT SELECT ON TABLE public.assets TO APPLICATION ROLE app_public;
GRANT SELECT ON TABLE public.eltops_load_state TO APPLICATION ROLE app_public;
GRANT SELECT ON TABLE public.eltops_schema_version TO APPLICATION ROLE app_public;
-- END GENERATED TABLES

-- What core.status() reports besides the load state: per component (each resource, and 'api-objects') when it
-- last succeeded and when it last failed, with the error. Written by the load procedures and by
-- core.create_eai_objects / the upgrade's recreation, so an error there is visible instead of swallowed.
-- BEGIN STATUS TABLE
CREATE TABLE IF NOT EXISTS public.app_status (component VARCHAR, succeeded_at TIMESTAMP_TZ, rows_read NUMBER(38,0), complete BOOLEAN, error VARCHAR, failed_at TIMESTAMP_TZ);
-- END STATUS TABLE
GRANT SELECT ON TABLE public.app_status TO APPLICATION ROLE app_public;

-- The refresh task is stateful, so it lives in a normal schema too (created by core.schedule_refresh).
CREATE SCHEMA IF NOT EXISTS tasks;
GRANT USAGE ON SCHEMA tasks TO APPLICATION ROLE app_public;

-- Code: a versioned schema, replaced as a whole by each upgrade.
CREATE OR ALTER VERSIONED SCHEMA core;
GRANT USAGE ON SCHEMA core TO APPLICATION ROLE app_public;

-- BEGIN SETUP AND OPERATIONS (issue 24: callbacks, API objects, status, schedule, page)
-- Every procedure below is a thin declaration of a Python handler in orchestra_app.py, so what it decides is
-- tested offline (tests/snowflake_app/_app_runtime.py runs this whole script on fakesnow).

-- Register callback (the manifest's register_callback), as Snowflake documents it in "Request references and
-- object-level privileges from consumers": Snowsight calls it when the consumer binds an object, and so does
--   CALL core.register_reference('ORCHESTRA_API_KEY', 'ADD', SYSTEM$REFERENCE('SECRET', 'db.schema.key', 'PERSISTENT', 'READ'));
-- ADD binds with SYSTEM$SET_REFERENCE (replacing a previous binding: single-valued references), REMOVE and CLEAR
-- unbind. Once both references are bound it creates the API objects itself (orchestra_app.on_register).
CREATE OR REPLACE PROCEDURE core.register_reference(ref_name STRING, operation STRING, ref_or_alias STRING)
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.register_reference'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.register_reference(STRING, STRING, STRING) TO APPLICATION ROLE app_public;

-- Configuration callback (the manifest's configuration_callback): what Snowsight needs to create each object for
-- the consumer. The integration: HTTPS (443) to app.getorchestra.io only, with the bound key; the key: a
-- GENERIC_STRING secret the consumer types (orchestra_app.configuration; README, "Design choices").
CREATE OR REPLACE PROCEDURE core.get_configuration(ref_name STRING)
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.get_configuration'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.get_configuration(STRING) TO APPLICATION ROLE app_public;

-- core.create_eai_objects(): (re)create everything that calls the API (orchestra_app.API_OBJECTS). The register
-- callback runs it once both references are bound; a consumer calls it only to retry after fixing an error.
CREATE OR REPLACE PROCEDURE core.create_eai_objects()
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.create_eai_objects'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.create_eai_objects() TO APPLICATION ROLE app_public;

-- An upgrade replaces the versioned schema and with it the API objects: recreate them when the references are
-- already bound (on a first install they are not yet, and this does nothing). A failure does not fail the
-- upgrade, but it is never swallowed: it goes to public.app_status, where core.status() and the page show it.
CREATE OR REPLACE PROCEDURE core.recreate_eai_objects_if_bound()
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.recreate_eai_objects_if_bound'
  EXECUTE AS OWNER;
CALL core.recreate_eai_objects_if_bound();

-- core.status(): references bound or missing, which API objects exist, per resource the last load, rows, cursor
-- and last error, the refresh task's state (running, suspended, auto-suspended, last error) and the next step.
-- No external access: it exists even when the API objects do not.
CREATE OR REPLACE PROCEDURE core.status()
  RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.status'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.status() TO APPLICATION ROLE app_public;

-- Automation: one serverless task, tasks.refresh_orchestra, that calls core.refresh() on a schedule
-- (orchestra_app.task_sql): USER_TASK_TIMEOUT_MS and STATEMENT_TIMEOUT_IN_SECONDS set to 60 minutes, suspended by
-- Snowflake after 3 failed runs in a row; core.refresh() ends its work before the statement timeout it runs under.
CREATE OR REPLACE PROCEDURE core.schedule_refresh(schedule STRING DEFAULT '60 MINUTES')
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.schedule_refresh'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.schedule_refresh(STRING) TO APPLICATION ROLE app_public;

CREATE OR REPLACE PROCEDURE core.resume_refresh()
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.resume_refresh'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.resume_refresh() TO APPLICATION ROLE app_public;

CREATE OR REPLACE PROCEDURE core.unschedule_refresh()
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.unschedule_refresh'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.unschedule_refresh() TO APPLICATION ROLE app_public;

-- The task lives in the normal schema tasks and survives upgrades with the clauses of the version that made it:
-- give it this version's definition (same schedule, same state); a failure is recorded, not raised.
CREATE OR REPLACE PROCEDURE core.upgrade_task_definition()
  RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.upgrade_task_definition'
  EXECUTE AS OWNER;
CALL core.upgrade_task_definition();

-- The page (the manifest's default_streamlit): binding state and next step, the schedule, the last loads, charts.
CREATE OR REPLACE STREAMLIT core.orchestra_ui
  FROM '/streamlit'
  MAIN_FILE = 'orchestra_ui.py';
GRANT USAGE ON STREAMLIT core.orchestra_ui TO APPLICATION ROLE app_public;
-- END SETUP AND OPERATIONS
