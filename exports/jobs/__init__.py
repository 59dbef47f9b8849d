"""Export jobs: a request becomes an `exports` row, a long-lived worker pool renders it, the file is kept 7 days.

    row = create_export(services, principal, "revenue_overview", "excel", "30d", {})
    row = wait(services, row.id, timeout=30)          # or poll get_export(...)
    path, name, ctype = open_download(services, principal, row.id)

The flow (every step usable from the API, the dashboard UI and tests):

1. `create_export` validates the request (format, period, filters, widget), finds the report and
   checks `export` access up front (a 403 now rather than a failed job later), inserts a `pending`
   row, audits `export.create` and queues the job.
2. One `ExportManager` per app (per `Services`) owns a thread pool of REPORT_CONCURRENT_LIMIT
   workers in this process, so the warm kaleido server and the kept-open Chromium are reused by
   every job; no process is spawned per export.
3. A worker claims the row (`pending` -> `running`, only if nobody cancelled it), generates the report
   through `engine.generate(..., action="export")` (authorization, role date cap, row scope and
   masking happen there, again), in chunks of REPORT_CONCURRENT_LIMIT widgets so that progress
   moves and cancel/timeout are seen between chunks, then renders to
   `<instance>/exports/<id>/<file name>` (the renderers write atomically).
4. The row becomes `succeeded` only through a conditional update (`WHERE status = 'running'`): an
   export cancelled or timed out meanwhile never turns into a downloadable file — its file is
   deleted instead. Failures keep the renderer's safe `user_message`; anything else is logged and
   stored as a generic message.

Timeouts: REPORT_TIMEOUT_SECONDS bounds a job from the moment a worker takes it. The renderers stop
themselves at the deadline (ExportTimeoutError); for a stage that cannot be interrupted (a query
inside `generate`), the manager's monitor thread marks the job `failed` with the timeout message at
the deadline and the worker's late result is thrown away. Python threads cannot be killed.

Cancel: `cancel_export` sets the status to `cancelled` at once (any process sharing the database
can do it); the worker notices at its next checkpoint, and whatever it produces is discarded.

Retention: `purge_exports` deletes rows and files older than `security.audit.cutoff("export_files")`
(7 days), plus orphaned folders; the monitor runs it when the manager starts and hourly.

Interrupted jobs: a row holds the id of the process running it (`worker_id`), whose monitor refreshes
its `heartbeat_at` every HEARTBEAT_SECONDS. A pending/running row whose heartbeat is older than
STALE_AFTER_SECONDS (its process was killed, crashed or restarted) is failed with INTERRUPTED: at
start-up (`init_app`) and by every process's monitor, which runs from the process's first request.

Failing sources: an export whose every widget failed (the warehouse is down) fails with the
widgets' safe message and keeps no file; when only some fail, the file marks them in their place
and the row's `message` names them.

Queue: with REDIS_URL, the ids of pending exports are also the Redis list `export_queue`
(`redis-cli llen export_queue` counts them); the rows stay the source of truth (see `queue`).

Modules: `request` (checking format, period and filters), `rows` (states, reading rows, the API
view, the purge), `operations` (create, wait, cancel, download), `worker` (the `ExportManager` pool
and its monitor), `queue` (the Redis list), `warmup` (starting the renderers once). Import
from `exports.jobs`: every public name is here. `generate`, `render` and `authorize` are looked up
here at call time, so patching them on `exports.jobs` reaches the worker and the download check.
"""

from engine.generate import generate
from exports import render
from exports.jobs.operations import cancel_export, create_export, open_download, wait
from exports.jobs.queue import QUEUE_KEY, ExportQueueList
from exports.jobs.request import (
    RESERVED_FILTERS,
    ExportNotReady,
    ExportRequestError,
    apply_filters,
    dimension_filters,
    parse_format,
)
from exports.jobs.rows import (
    CANCELLED,
    CANCELLED_MESSAGE,
    EXPORT_DIR,
    FAILED,
    FINISHED,
    GENERIC_ERROR,
    INTERRUPTED,
    PENDING,
    RUNNING,
    STALE_AFTER_SECONDS,
    STATES,
    SUCCEEDED,
    as_dict,
    export_root,
    fail_interrupted,
    get_export,
    get_for,
    purge_exports,
    timed_out,
)
from exports.jobs.warmup import WARM_WAIT_SECONDS, warm_renderers
from exports.jobs.worker import (
    HEARTBEAT_SECONDS,
    PURGE_INTERVAL_SECONDS,
    ExportManager,
    init_app,
    manager,
    shutdown_manager,
)
from security.policy import authorize

__all__ = [
    "CANCELLED",
    "CANCELLED_MESSAGE",
    "EXPORT_DIR",
    "FAILED",
    "FINISHED",
    "GENERIC_ERROR",
    "HEARTBEAT_SECONDS",
    "INTERRUPTED",
    "PENDING",
    "PURGE_INTERVAL_SECONDS",
    "QUEUE_KEY",
    "RESERVED_FILTERS",
    "RUNNING",
    "STALE_AFTER_SECONDS",
    "STATES",
    "SUCCEEDED",
    "WARM_WAIT_SECONDS",
    "ExportManager",
    "ExportNotReady",
    "ExportQueueList",
    "ExportRequestError",
    "apply_filters",
    "as_dict",
    "authorize",
    "cancel_export",
    "create_export",
    "dimension_filters",
    "export_root",
    "fail_interrupted",
    "generate",
    "get_export",
    "get_for",
    "init_app",
    "manager",
    "open_download",
    "parse_format",
    "purge_exports",
    "render",
    "shutdown_manager",
    "timed_out",
    "wait",
    "warm_renderers",
]
