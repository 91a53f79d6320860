# The Airflow 3 task process: runs the operator in a "virtualenv python" that carries AIRFLOW_CTX_*.
trap 'echo "$E2E_ROLE" >> "$E2E_SIGNALS"; exit 143' TERM
(
  export E2E_ROLE="$E2E_ROLE/venv" AIRFLOW_CTX_DAG_ID="$E2E_DAG" AIRFLOW_CTX_TASK_ID="$E2E_TASK" \
    AIRFLOW_CTX_DAG_RUN_ID="$E2E_RUN" AIRFLOW_CTX_TRY_NUMBER="$E2E_TRY"
  exec -a "/opt/airflow/venv/bin/python /opt/airflow/dags/run_dbt.py" bash < "$E2E_SCRIPTS/venv.sh"
) &
while :; do sleep 3600 & wait $!; done
