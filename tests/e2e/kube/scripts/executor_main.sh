# The workload container of a KubernetesExecutor pod (pid 1 of its PID namespace): a plain child,
# a setsid escapee and a double-forked daemon, all with the pod's AIRFLOW_CTX_* environment.
sleep 3600 &
setsid sleep 3600 &
( sleep 3600 & ) &
while :; do sleep 3600 & wait $!; done
