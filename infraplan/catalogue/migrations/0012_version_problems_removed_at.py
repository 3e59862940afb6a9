"""When a version's stored problems were deleted: those of a load never published go
LOAD_PROBLEMS_KEPT_DAYS after it (``problem_retention``); a published version's never do."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0011_version_problem"),
    ]

    operations = [
        migrations.AddField(
            model_name="datasetversion",
            name="problems_removed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When its stored problems were deleted, LOAD_PROBLEMS_KEPT_DAYS after "
                "a load that was not published; its pages then list those its report keeps "
                "(empty: never).",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="datasetversion",
            constraint=models.CheckConstraint(
                condition=models.Q(problems_removed_at__isnull=True) | ~models.Q(state="published"),
                name="published_version_keeps_problems",
            ),
        ),
    ]
