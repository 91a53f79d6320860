"""DAGs that leave behind what real operators leave, for the real-Airflow end-to-end tests.

Every process a task starts carries E2E_TI=<task_id>/<map_index>/<try_number> in its environment:
the test finds a TaskInstance's processes by that mark, never by the agent's own rules. Leftovers
write to /dev/null so that BashOperator, which reads its child's stdout to the end, is not held.
The same file parses on Airflow 2.10 and 3.x."""
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator

MARK = 'export E2E_TI="{{ ti.task_id }}/{{ ti.map_index }}/{{ ti.try_number }}"\n'
# A plain child, a setsid escapee, a double-forked daemon in its own session (reparented away
# from the tree at once) and a child that ignores SIGTERM (an ignored signal stays ignored across
# exec); then the task runs until stopped. No process comes and goes: the test's process sets are
# stable.
LEFTOVERS = r"""
exec >/dev/null 2>&1
(exec -a e2e-child sleep 3600) &
setsid bash -c 'exec -a e2e-escapee sleep 3600' &
( setsid bash -c 'exec -a e2e-daemon sleep 3600' & )
( trap '' TERM; exec -a e2e-ignores-term sleep 3600 ) &
"""
RUN_UNTIL_STOPPED = "exec -a e2e-main sleep 3600\n"
# Try 1 leaves its leftovers and fails; try 2 leaves nothing and succeeds.
RETRY = MARK + LEFTOVERS + """
if [ "{{ ti.try_number }}" -le 1 ]; then sleep 3; exit 1; fi
sleep 5
"""

# A cleared running TI goes to up_for_retry once its process ends: retry it at once.
DEFAULTS = dict(schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
                is_paused_upon_creation=False, max_active_runs=16,
                default_args={"retry_delay": timedelta(0)})


def popen_children(**context):
    ti = context["ti"]
    env = dict(os.environ, E2E_TI=f"{ti.task_id}/{ti.map_index}/{ti.try_number}")
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.Popen(["sleep", "3600"], **quiet)
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"],
                     start_new_session=True, **quiet)
    while True:
        time.sleep(1)


with DAG("reaper_e2e_bash", **DEFAULTS):
    BashOperator(task_id="leftovers", bash_command=MARK + LEFTOVERS + RUN_UNTIL_STOPPED)

with DAG("reaper_e2e_python", **DEFAULTS):
    PythonOperator(task_id="popen", python_callable=popen_children)

with DAG("reaper_e2e_mapped", **DEFAULTS):
    BashOperator.partial(task_id="mapped").expand(
        bash_command=[MARK + LEFTOVERS + RUN_UNTIL_STOPPED] * 3)

with DAG("reaper_e2e_retry", **DEFAULTS):
    BashOperator(task_id="retry", bash_command=RETRY, retries=1)
