"""The scheduler: turns due schedules into recorded runs, executes each exactly once, delivers.

How a run happens exactly once, however many app instances share the metadata database:
  1. *Claim* (any instance, every tick): for each schedule whose `next_run_at` has passed, one
     transaction locks the row (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), advances
     `next_run_at` with a compare-and-swap (`UPDATE ... WHERE next_run_at = <old value>`) and inserts
     the due `ScheduleRun` as `queued`. The unique (schedule_id, due_at) constraint backs this up:
     a second insert of the same occurrence fails and that instance rolls back.
  2. *Dispatch*: an instance with free workers moves queued runs to `running` with a second
     compare-and-swap (`WHERE state = 'queued'`, rows locked with SKIP LOCKED on PostgreSQL),
     stamps `claimed_by` and a lease, and hands the run id to its executor.
  3. *Execute*: render (bounded by REPORT_TIMEOUT_SECONDS), then deliver to every recipient,
     recording each delivery; the run ends `succeeded`, `failed` or `skipped`.
A run whose worker died (lease expired while `running`) is marked failed, never re-sent: a
delivery may already have gone out, and a duplicate is worse than a visible failure.

Misfires (occurrences missed while no scheduler ran): see `engine.schedules.plan_due` — the latest
missed occurrence runs if it is at most `misfire_grace` late (6 hours by default); every other
missed occurrence is recorded as a `skipped` run with the reason.

Execution seam: the `Executor` protocol. The default `ThreadExecutor` runs runs in this process on
REPORT_CONCURRENT_LIMIT threads. A Celery executor (later) implements `submit` by sending the run id
to a task that calls `Scheduler.execute(run_id)` in a worker; claiming and dispatching stay here.

Retention: run files under `<instance>/schedules/` are deleted once older than the export-file
retention (`security.audit.cutoff("export_files")`, 7 days); the runs stay in the history with their
files marked `purged_at`, and their download links answer 410. The tick does this at most hourly
(`purge_run_files`).

Timeouts: Python threads cannot be killed. A render still going at the deadline has its run marked
failed at once, its worker slot freed and its late output discarded; it is asked to stop through
`current_run().cancelled` / `check_cancelled()`, which long renders should poll.

Modules: `runs` (clock, run context, executors), `operations` (schedule operations for the API and
the UI), `core` (the `Scheduler` and its tick), `execution` (executing and delivering one run),
`purge` (retention of run files). Import from `engine.scheduler`: every public name is here.
"""

from engine.scheduler.core import PURGE_EVERY, Scheduler, TickReport
from engine.scheduler.execution import CHANNEL_FLAGS, LinkFn, RenderFn, RunExecution
from engine.scheduler.operations import (
    create_schedule,
    history,
    next_runs,
    pause,
    prepare_schedule,
    preview,
    resume,
    run_now,
)
from engine.scheduler.purge import FINAL_STATES, purge_run_files
from engine.scheduler.runs import (
    Executor,
    RunCancelled,
    RunContext,
    RunTimeout,
    ThreadExecutor,
    check_cancelled,
    current_run,
    utcnow,
)

__all__ = [
    "CHANNEL_FLAGS",
    "FINAL_STATES",
    "PURGE_EVERY",
    "Executor",
    "LinkFn",
    "RenderFn",
    "RunCancelled",
    "RunContext",
    "RunExecution",
    "RunTimeout",
    "Scheduler",
    "ThreadExecutor",
    "TickReport",
    "check_cancelled",
    "create_schedule",
    "current_run",
    "history",
    "next_runs",
    "pause",
    "prepare_schedule",
    "preview",
    "purge_run_files",
    "resume",
    "run_now",
    "utcnow",
]
