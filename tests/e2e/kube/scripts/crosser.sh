# A helper process in one pod (not the container's init) that carries a TaskInstance's
# AIRFLOW_CTX_* (no map index) and starts a child exporting AIRFLOW_CTX_MAP_INDEX of another map
# index; the test moves that child into another pod's cgroup. The helper's SIGTERM handler only
# records that it fired.
(
  trap 'echo "$E2E_ROLE" >> "$E2E_SIGNALS"' TERM
  (
    export E2E_ROLE="$E2E_ROLE/child" AIRFLOW_CTX_MAP_INDEX="$E2E_CHILD_MAP_INDEX"
    exec -a "python /opt/airflow/dags/export_shard.py" sleep 3600
  ) &
  while :; do sleep 3600 & wait $!; done
) &
while :; do sleep 3600 & wait $!; done
