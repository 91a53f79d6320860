# The operator's interpreter: starts dbt and leaves what real operators leave behind: a setsid
# escapee, a double-forked daemon (reparented to the container's pid 1) and a SIGTERM ignorer.
trap 'echo "$E2E_ROLE" >> "$E2E_SIGNALS"; exit 143' TERM
( exec -a dbt sleep 3600 ) &
setsid sleep 3600 &
( sleep 3600 & ) &
( trap '' TERM; while :; do sleep 1; done ) &
while :; do sleep 3600 & wait $!; done
