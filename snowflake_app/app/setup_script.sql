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

-- Register callback (the manifest's register_callback), as Snowflake documents it in "Request references and
-- object-level privileges from consumers": the consumer binds an object with
--   CALL core.register_reference('ORCHESTRA_API_KEY', 'ADD', SYSTEM$REFERENCE('SECRET', 'db.schema.key', 'PERSISTENT', 'READ'));
-- and Snowsight calls it the same way. ADD binds (replacing a previous binding: single-valued references),
-- REMOVE unbinds one alias, CLEAR unbinds all.
CREATE OR REPLACE PROCEDURE core.register_reference(ref_name STRING, operation STRING, ref_or_alias STRING)
RETURNS STRING
LANGUAGE SQL
AS
$$
BEGIN
  CASE (operation)
    WHEN 'ADD' THEN
      SELECT SYSTEM$SET_REFERENCE(:ref_name, :ref_or_alias);
    WHEN 'REMOVE' THEN
      SELECT SYSTEM$REMOVE_REFERENCE(:ref_name, :ref_or_alias);
    WHEN 'CLEAR' THEN
      SELECT SYSTEM$REMOVE_ALL_REFERENCES(:ref_name);
    ELSE
      RETURN 'unknown operation: ' || operation;
  END CASE;
  RETURN NULL;
END;
$$;
GRANT USAGE ON PROCEDURE core.register_reference(STRING, STRING, STRING) TO APPLICATION ROLE app_public;

-- Configuration callback (the manifest's configuration_callback). Snowflake documents two payloads: for an
-- external access integration (host_ports, allowed_secrets, secret_references) and, for a secret, an OAUTH2
-- secret with its security integration. A GENERIC_STRING secret has no documented payload, so for the API key
-- the callback answers with the documented ERROR type, whose message Snowsight shows: the key is created and
-- bound with SQL (README, "Grant access"). For the integration Snowsight may create it, limited to HTTPS (port
-- 443) on the Orchestra host and to the bound key.
CREATE OR REPLACE PROCEDURE core.get_configuration(ref_name STRING)
RETURNS STRING
LANGUAGE SQL
AS
$$
BEGIN
  CASE (UPPER(ref_name))
    WHEN 'ORCHESTRA_EAI' THEN
      RETURN '{"type": "CONFIGURATION", "payload": {"host_ports": ["app.getorchestra.io:443"], "allowed_secrets": "LIST", "secret_references": ["ORCHESTRA_API_KEY"]}}';
    WHEN 'ORCHESTRA_API_KEY' THEN
      RETURN '{"type": "ERROR", "payload": {"message": "Create the API key secret with SQL and bind it with the register callback: CREATE SECRET <db>.<schema>.orchestra_api_key TYPE = GENERIC_STRING SECRET_STRING = ''<your key>''; CALL <this app>.core.register_reference(''ORCHESTRA_API_KEY'', ''ADD'', SYSTEM$REFERENCE(''SECRET'', ''<db>.<schema>.orchestra_api_key'', ''PERSISTENT'', ''READ'')); (see the app README)."}}';
    ELSE
      RETURN '{"type": "ERROR", "payload": {"message": "unknown reference ' || ref_name || '"}}';
  END CASE;
END;
$$;
GRANT USAGE ON PROCEDURE core.get_configuration(STRING) TO APPLICATION ROLE app_public;

-- core.create_eai_objects(): once both references are bound, (re)create everything that calls the API.
-- Each statement that follows "BEGIN_API_OBJECTS" is plain DDL on one line group ending with ";" (the tests parse
-- them one by one).
CREATE OR REPLACE PROCEDURE core.create_eai_objects()
RETURNS STRING
LANGUAGE SQL
EXECUTE AS OWNER
AS
$$
DECLARE
  not_bound EXCEPTION (-20001, 'Bind the Orchestra API key secret and the API access integration first: CALL core.register_reference(''ORCHESTRA_API_KEY'', ''ADD'', SYSTEM$REFERENCE(''SECRET'', ...)) and the same for ''ORCHESTRA_EAI'' (see the README).');
BEGIN
  IF (ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('ORCHESTRA_EAI'))) = 0
      OR ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('ORCHESTRA_API_KEY'))) = 0) THEN
    RAISE not_bound;
  END IF;
  -- BEGIN_API_OBJECTS
  CREATE OR REPLACE FUNCTION core.get_pipeline_runs(page INT DEFAULT 1, per_page INT DEFAULT 100)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11'
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.get_pipeline_runs'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'));
  CREATE OR REPLACE FUNCTION core.get_task_runs(page INT DEFAULT 1, per_page INT DEFAULT 100)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11'
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.get_task_runs'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'));
  CREATE OR REPLACE FUNCTION core.get_operations(page INT DEFAULT 1, per_page INT DEFAULT 100)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11'
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.get_operations'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'));
  CREATE OR REPLACE PROCEDURE core.load_pipeline_runs(since DATE DEFAULT NULL)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.load_pipeline_runs'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  CREATE OR REPLACE PROCEDURE core.load_task_runs(since DATE DEFAULT NULL)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.load_task_runs'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  CREATE OR REPLACE PROCEDURE core.load_operations(since DATE DEFAULT NULL)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.load_operations'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  CREATE OR REPLACE PROCEDURE core.load_all(since DATE DEFAULT NULL)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.load_all'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  CREATE OR REPLACE PROCEDURE core.backfill(since DATE)
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.backfill'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  CREATE OR REPLACE PROCEDURE core.refresh()
    RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
    IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
    HANDLER = 'orchestra_app.refresh'
    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))
    SECRETS = ('api_key' = reference('orchestra_api_key'))
    EXECUTE AS OWNER;
  GRANT USAGE ON FUNCTION core.get_pipeline_runs(INT, INT) TO APPLICATION ROLE app_public;
  GRANT USAGE ON FUNCTION core.get_task_runs(INT, INT) TO APPLICATION ROLE app_public;
  GRANT USAGE ON FUNCTION core.get_operations(INT, INT) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.load_pipeline_runs(DATE) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.load_task_runs(DATE) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.load_operations(DATE) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.load_all(DATE) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.backfill(DATE) TO APPLICATION ROLE app_public;
  GRANT USAGE ON PROCEDURE core.refresh() TO APPLICATION ROLE app_public;
  -- END_API_OBJECTS
  MERGE INTO public.app_status AS t USING (SELECT 'api-objects' AS component) AS s ON t.component = s.component
    WHEN MATCHED THEN UPDATE SET succeeded_at = CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())
    WHEN NOT MATCHED THEN INSERT (component, succeeded_at) VALUES (s.component, CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP()));
  RETURN 'Created core.get_pipeline_runs/get_task_runs/get_operations, core.load_pipeline_runs/load_task_runs/load_operations, core.load_all, core.backfill and core.refresh.';
END;
$$;
GRANT USAGE ON PROCEDURE core.create_eai_objects() TO APPLICATION ROLE app_public;

-- An upgrade replaces the versioned schema and with it the API objects: recreate them when the references are
-- already bound (on a first install they are not yet, and this does nothing). A failure does not fail the
-- upgrade (the rest of the new version works, and the consumer can fix a binding and CALL
-- core.create_eai_objects()), but it is never swallowed: the error goes to public.app_status, component
-- 'api-objects', where core.status() shows it next to which API objects exist.
CREATE OR REPLACE PROCEDURE core.recreate_eai_objects_if_bound()
RETURNS STRING
LANGUAGE SQL
EXECUTE AS OWNER
AS
$$
DECLARE
  problem STRING;
BEGIN
  IF (ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('ORCHESTRA_EAI'))) > 0
      AND ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('ORCHESTRA_API_KEY'))) > 0) THEN
    CALL core.create_eai_objects();
    RETURN 'recreated';
  END IF;
  RETURN 'references not bound yet';
EXCEPTION
  WHEN OTHER THEN
    problem := 'upgrade could not recreate the API objects: ' || SQLERRM;
    -- BEGIN RECORD UPGRADE ERROR
    MERGE INTO public.app_status AS t USING (SELECT 'api-objects' AS component, :problem AS error) AS s ON t.component = s.component
      WHEN MATCHED THEN UPDATE SET error = s.error, failed_at = CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())
      WHEN NOT MATCHED THEN INSERT (component, error, failed_at) VALUES (s.component, s.error, CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP()));
    -- END RECORD UPGRADE ERROR
    RETURN problem;
END;
$$;
CALL core.recreate_eai_objects_if_bound();

-- core.status(): per resource the last load (when, rows read, whether it read every planned window), the cursor
-- and the last error; for the API objects whether the references are bound, which functions and procedures
-- exist, and the last error creating them (an upgrade's included). No external access: it exists even when the
-- API objects do not.
CREATE OR REPLACE PROCEDURE core.status()
  RETURNS VARIANT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('snowflake-snowpark-python')
  IMPORTS = ('/python/orchestra_app.py', '/python/_plan.py', '/python/_records.py', '/python/_retry.py', '/python/_api_errors.py')
  HANDLER = 'orchestra_app.status'
  EXECUTE AS OWNER;
GRANT USAGE ON PROCEDURE core.status() TO APPLICATION ROLE app_public;

-- Automation: one serverless task that runs the three loads on a schedule. Its timeout is set explicitly
-- (USER_TASK_TIMEOUT_MS, 60 minutes: Snowflake's default, written down so the handler's budget can rely on it),
-- and it calls core.refresh(), which stops starting new windows after orchestra_app.TASK_TIME_BUDGET (45
-- minutes) and commits each window as it completes, so a long first load progresses run after run instead of
-- being cancelled at the timeout and redoing the same window forever.
CREATE OR REPLACE PROCEDURE core.schedule_refresh(schedule STRING DEFAULT '60 MINUTES')
RETURNS STRING
LANGUAGE SQL
EXECUTE AS OWNER
AS
$$
DECLARE
  bad_schedule EXCEPTION (-20002, 'The schedule must look like ''60 MINUTES'' or ''USING CRON 0 * * * * UTC''.');
  wanted STRING DEFAULT TRIM(schedule);
BEGIN
  IF (NOT (REGEXP_LIKE(:wanted, '[0-9]{1,5} +MINUTES?', 'i')
           OR REGEXP_LIKE(:wanted, 'USING +CRON( +[0-9A-Za-z*/,#?-]+){5} +[A-Za-z_/+-]+', 'i'))) THEN
    RAISE bad_schedule;
  END IF;
  EXECUTE IMMEDIATE 'CREATE OR REPLACE TASK tasks.refresh_orchestra SCHEDULE = ''' || :wanted
    || ''' USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = ''XSMALL'' USER_TASK_TIMEOUT_MS = 3600000'
    || ' ALLOW_OVERLAPPING_EXECUTION = FALSE'
    || ' COMMENT = ''Orchestra Data App: loads pipeline runs, task runs and operations'' AS CALL core.refresh()';
  ALTER TASK tasks.refresh_orchestra RESUME;
  GRANT MONITOR, OPERATE ON TASK tasks.refresh_orchestra TO APPLICATION ROLE app_public;
  RETURN 'Scheduled tasks.refresh_orchestra: ' || :wanted;
END;
$$;
GRANT USAGE ON PROCEDURE core.schedule_refresh(STRING) TO APPLICATION ROLE app_public;

CREATE OR REPLACE PROCEDURE core.unschedule_refresh()
RETURNS STRING
LANGUAGE SQL
EXECUTE AS OWNER
AS
$$
BEGIN
  DROP TASK IF EXISTS tasks.refresh_orchestra;
  RETURN 'Dropped tasks.refresh_orchestra (if it existed).';
END;
$$;
GRANT USAGE ON PROCEDURE core.unschedule_refresh() TO APPLICATION ROLE app_public;
