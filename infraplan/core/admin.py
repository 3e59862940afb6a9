"""The task queue's jobs in the administration, as its own admin shows them, without the inline
styles that the platform's Content Security Policy refuses (styled by core/admin.css)."""

import json

from django.contrib import admin
from django.utils.html import format_html
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
from procrastinate.contrib.django.models import ProcrastinateJob

# Its own admin cuts longer arguments short with an ellipsis too.
ARGUMENTS_SHOWN = 2000


class JobAdmin(ProcrastinateJobAdmin):
    @admin.display(description="Args")
    def pretty_args(self, instance: ProcrastinateJob) -> str:
        indent = 2 if len(instance.args) > 1 or len(str(instance.args)) > 30 else None
        shown = json.dumps(instance.args, indent=indent)
        if len(shown) > ARGUMENTS_SHOWN:
            shown = shown[:ARGUMENTS_SHOWN] + "..."
        return format_html('<pre class="app-admin-job-arguments">{}</pre>', shown)


admin.site.unregister(ProcrastinateJob)
admin.site.register(ProcrastinateJob, JobAdmin)
