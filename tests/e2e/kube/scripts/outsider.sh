# A process outside every pod with the AIRFLOW_CTX_* environment of a pod's TI, and its child.
setsid sleep 3600 &
while :; do sleep 3600 & wait $!; done
