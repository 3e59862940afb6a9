"""A dataset can be withdrawn (and restored): when, by whom and why.

Adding columns changes no row, so the catalogue's change notifications (0008) need nothing new:
a withdrawal or a restore updates the dataset's row, which notifies like any other change.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0008_catalogue_change_notifications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="withdrawn_at",
            field=models.DateTimeField(
                blank=True, help_text="When it was withdrawn (empty: it is not).", null=True
            ),
        ),
        migrations.AddField(
            model_name="dataset",
            name="withdrawn_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="dataset",
            name="withdrawal_reason",
            field=models.TextField(blank=True, default="", help_text="Why it was withdrawn."),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("withdrawn_at__isnull", True),
                    models.Q(("withdrawal_reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="dataset_withdrawn_with_reason",
            ),
        ),
    ]
