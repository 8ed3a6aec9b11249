"""Celery settings for newsworker, each with the reason it is set.

Values that ops tune come from the typed settings (``NEWSWORKER_*``), read once
when the worker or beat starts; nothing here connects anywhere.
"""

from __future__ import annotations

from kombu import Exchange, Queue

from worker.service import messages
from worker.settings import get_settings

_settings = get_settings()

# The broker. Without one (embedded mode) the CLI never starts Celery at all.
broker_url = _settings.broker_url or "redis://127.0.0.1:6379/0"

# JSON only: pickle lets anyone who can write to the broker run code in the worker.
task_serializer = "json"
accept_content = ["json"]
result_serializer = "json"
event_serializer = "json"

# No result backend: tasks hand results to the database; results in Redis would only grow.
result_backend = None
task_ignore_result = True

# Acknowledge after the task ran, and re-queue it if the worker process dies
# mid-task: a SIGKILLed or OOM-killed worker loses nothing (every task is idempotent).
task_acks_late = True
task_reject_on_worker_lost = True
# Take one message at a time: with late acks, prefetched messages are stuck
# behind a long task, and on a crash they are the ones that wait for redelivery.
worker_prefetch_multiplier = 1

# Redis redelivers a message not acknowledged within the visibility timeout. It
# must exceed every countdown, ETA and retry back-off we use (the longest is a host's
# slow-down, messages.RETRY_BACKOFF_MAX, 30 min; a transient retry waits 60 s at most)
# and the hard time limit, or tasks run twice. It is not how lost work comes back: a
# killed worker's messages would wait hours for it. The work_items lease does that
# (worker/service/work.py): a running task's live lease (a third of the time limit +
# 15 s, at least 10 s, renewed by a heartbeat) runs out within 30 s of its worker's
# death and beat's sweep sends the item again; a retry's lease covers its countdown
# plus one full lease. Redis's late redelivery then finds the item done or held.
broker_transport_options = {
    "visibility_timeout": _settings.visibility_timeout_seconds,
    "queue_order_strategy": "priority",
}
result_backend_transport_options = {"visibility_timeout": _settings.visibility_timeout_seconds}
# A worker that lost its broker connection cancels its late-ack tasks: the broker
# redelivers them anyway, so finishing them too would run them twice.
worker_cancel_long_running_tasks_on_connection_loss = True
# Keep trying to reach the broker at start-up instead of crashing the container.
broker_connection_retry_on_startup = True
broker_connection_max_retries = None

# Graceful shutdown (`docker stop` sends SIGTERM). The worker's environment has
# REMAP_SIGTERM=SIGQUIT (the image and compose set it), so SIGTERM starts Celery's
# soft shutdown: running tasks get this many seconds to finish, then the unfinished
# ones are cancelled and, being late-acked and unacknowledged, go back to their
# queue before the worker exits. Keep it below compose's stop_grace_period, or
# Docker's SIGKILL arrives first and those messages wait for the visibility timeout.
worker_soft_shutdown_timeout = _settings.worker_soft_shutdown_seconds

# Time limits: a hung fetch or a pathological page cannot hold a process forever.
# The soft limit raises inside the task (it is retried); the hard one kills the child.
task_soft_time_limit = _settings.task_soft_time_limit_seconds
task_time_limit = _settings.task_time_limit_seconds

# Separate queues so a burst of article fetches never delays feed polling, and
# CPU-heavy processing can get its own workers.
task_default_queue = "process"
task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in messages.queues())
# Every task to its queue, from the one registry (beat's sends and Celery's retries included).
task_routes = (messages.route,)
# Messages survive a broker restart (Redis must run with AOF persistence).
task_default_delivery_mode = "persistent"
# Recycle children now and then so a leak in a parser cannot grow without bound.
worker_max_tasks_per_child = 1000
# ...and at once after a task that left a child this large (Celery counts KiB): lxml keeps
# the arena a huge page grew, so a child would carry that peak through its next 999 tasks.
# A child runs at about 230 MB (bench.distributed reports the peak); the default is 4x that.
worker_max_memory_per_child = _settings.worker_max_memory_mb * 1024
# Task events cost a worker 5-10% of its CPU (a Redis publish per task state from the main
# process, and a "sent" event per follow-up a task enqueues; bench.distributed --env
# NEWSWORKER_TASK_EVENTS=1, alternating: 81.6 vs 73.8 ms per article), for nobody when no
# monitor runs.
# So they are off unless NEWSWORKER_TASK_EVENTS=1: Flower turns them on itself (its
# enable_events, at start and every minute) and `celery -A tasks control enable_events`
# does it for `celery events`. "sent" events come from the sender and cannot be turned on
# later, so they follow the same setting.
worker_send_task_events = _settings.task_events
task_send_sent_event = _settings.task_events

# Beat only triggers the dispatcher; which feed is due is decided from the database.
beat_schedule = {
    "dispatch-due-feeds": {
        "task": messages.DispatchDueFeeds.NAME,
        "schedule": _settings.dispatch_interval_seconds,
        # A dispatch that waited longer than one interval is stale: the next one replaces it.
        "options": {"expires": _settings.dispatch_interval_seconds},
    },
    # Story ids settle here: the pass regroups stories changed since it last ran (articles
    # of look-alike events that the online linker put together). One at a time is enough;
    # a pass still queued when the next is due is dropped (expires), the work is in the DB.
    "refine-stories": {
        "task": messages.RefineStories.NAME,
        "schedule": _settings.story_refine_interval_seconds,
        "options": {"expires": _settings.story_refine_interval_seconds},
    },
    # The outbox's events out to the Redis Stream every few seconds (a relay that waited in the
    # queue longer than a few ticks is dropped; the events wait in the database, nothing is lost).
    "relay-events": {
        "task": messages.RelayEvents.NAME,
        "schedule": _settings.events_relay_interval_seconds,
        "options": {"expires": max(10.0, 5 * _settings.events_relay_interval_seconds)},
    },
    # Every minute, what autovacuum would do for the planner where a PostgreSQL server runs
    # without it: ANALYZE of the tables that changed (a no-op otherwise; storage.maintenance).
    "analyze-tables": {
        "task": messages.AnalyzeTables.NAME,
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Daily: story vectors and rarely seen sentence counts older than 60 days (full scans).
    "prune-story-state": {
        "task": messages.PruneStoryState.NAME,
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
}
# Exactly one beat sends: the scheduler holds a Redis lock it renews; a second beat
# started by mistake (or as a hot standby) waits and takes over when the first dies.
beat_scheduler = "tasks.beat:SingleBeatScheduler"
timezone = "UTC"
enable_utc = True
