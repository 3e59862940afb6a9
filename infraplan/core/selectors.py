from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateWorker

WORKER_STALE_AFTER = timedelta(minutes=2)


def queue_status() -> str:
    """'ok' when a worker has sent a heartbeat recently, else 'no worker'."""
    try:
        alive = ProcrastinateWorker.objects.filter(
            last_heartbeat__gte=timezone.now() - WORKER_STALE_AFTER
        ).exists()
    except DatabaseError:
        return "unknown"
    return "ok" if alive else "no worker"
