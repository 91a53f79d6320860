# The Celery main process of a worker container (pid 1 of its PID namespace): one pool process per
# line of $E2E_TIS ("uuid dag task run try"). Its SIGTERM handler only records that it fired.
trap 'echo "$E2E_ROLE" >> "$E2E_SIGNALS"' TERM
n=0
while read -r uuid dag task run try; do
  n=$((n + 1))
  (
    export E2E_ROLE="$E2E_ROLE/pool-$n" E2E_UUID="$uuid" E2E_DAG="$dag" E2E_TASK="$task" \
      E2E_RUN="$run" E2E_TRY="$try"
    exec -a "[celeryd: w@$E2E_HOST:ForkPoolWorker-$n]" bash < "$E2E_SCRIPTS/pool.sh"
  ) &
done < "$E2E_TIS"
while :; do sleep 3600 & wait $!; done
