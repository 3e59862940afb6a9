from django.core.management.base import BaseCommand, CommandError

from infraplan.catalogue.demo import demo_manifest
from infraplan.catalogue.tasks import demo_load_task
from infraplan.core.queue import defer_once, job_wait
from infraplan.places.tasks import postcodes_load_task


class Command(BaseCommand):
    help = (
        "Queue the data load of the manifest demo.toml in DEMO_DATA_DIR (data/ by default: the "
        "demo datasets) and its postcode directory; "
        "idempotent. With --wait, wait for a worker to finish it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wait", action="store_true", help="Wait until the jobs have finished."
        )
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to wait at most.")

    def handle(self, *args, wait: bool, timeout: float, **options) -> None:
        jobs = {"Demo load": defer_once(demo_load_task)}
        postcodes = demo_manifest().postcodes
        if postcodes:
            jobs["Postcode load"] = defer_once(postcodes_load_task, path=postcodes)
        for name, job_id in jobs.items():
            self.stdout.write(f"{name} queued as job {job_id}.")
        if not wait:
            return
        for name, job_id in jobs.items():
            try:
                status = job_wait(job_id, timeout=timeout)
            except TimeoutError as error:
                raise CommandError(
                    f"{error}: is a worker running (infraplan procrastinate worker)?"
                ) from None
            if status != "succeeded":
                raise CommandError(
                    f"{name} job {job_id} {status}; see the worker's log for the reason."
                )
            self.stdout.write(self.style.SUCCESS(f"{name} job {job_id} succeeded."))
