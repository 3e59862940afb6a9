"""Small helpers around the task queue (procrastinate on PostgreSQL)."""

import time

from procrastinate import exceptions
from procrastinate.contrib.django.models import ProcrastinateJob

FINISHED = {"succeeded", "failed", "cancelled", "aborted"}


def defer_once(task, **kwargs) -> int:
    """Defer ``task`` unless a job holding its queueing lock is already waiting; return its id."""
    try:
        return task.defer(**kwargs)
    except exceptions.AlreadyEnqueued:
        job = (
            ProcrastinateJob.objects.filter(queueing_lock=task.queueing_lock, status="todo")
            .order_by("-id")
            .first()
        )
        if job is None:  # it started between our attempt and the look-up
            return task.defer(**kwargs)
        return job.id


def job_wait(job_id: int, *, timeout: float, poll: float = 0.5) -> str:
    """Wait until a job finishes; return its final status. Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        status = ProcrastinateJob.objects.values_list("status", flat=True).get(id=job_id)
        if status in FINISHED:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still {status} after {timeout:.0f} s")
        time.sleep(poll)
