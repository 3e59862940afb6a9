from django.core.management.base import BaseCommand, CommandError

from infraplan.core.queue import defer_once, job_wait

from ...tasks import demo_load_task


class Command(BaseCommand):
    help = "Queue the demo data load (idempotent); with --wait, wait for a worker to finish it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", action="store_true", help="Wait until the job has finished.")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to wait at most.")

    def handle(self, *args, wait: bool, timeout: float, **options) -> None:
        job_id = defer_once(demo_load_task)
        self.stdout.write(f"Demo load queued as job {job_id}.")
        if not wait:
            return
        try:
            status = job_wait(job_id, timeout=timeout)
        except TimeoutError as error:
            raise CommandError(
                f"{error}: is a worker running (infraplan procrastinate worker)?"
            ) from None
        if status != "succeeded":
            raise CommandError(
                f"Demo load job {job_id} {status}; see the worker's log for the reason."
            )
        self.stdout.write(self.style.SUCCESS(f"Demo load job {job_id} succeeded."))
