# A Celery pool process: forks the Airflow 3 task process of its TI (same process group, no
# AIRFLOW_CTX_* in its environment). Its SIGTERM handler only records that it fired.
trap 'echo "$E2E_ROLE" >> "$E2E_SIGNALS"' TERM
(
  export E2E_ROLE="$E2E_ROLE/task"
  exec -a "airflow worker -- $E2E_UUID" bash < "$E2E_SCRIPTS/task.sh"
) &
while :; do sleep 3600 & wait $!; done
