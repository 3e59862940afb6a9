"""Every problem a load finds, in a table of its own keyed by the version (the version's report
keeps only the first ones, for its pages); deleted with the version."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0010_dataset_part_codes"),
    ]

    operations = [
        migrations.CreateModel(
            name="VersionProblem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("row", models.PositiveIntegerField(help_text="1-based, in the source's order.")),
                (
                    "reference",
                    models.TextField(
                        blank=True, help_text="The row's reference, where it has one."
                    ),
                ),
                ("field", models.TextField(db_collation="C")),
                ("value", models.TextField(blank=True)),
                ("problem", models.TextField()),
                (
                    "version",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="problems",
                        to="catalogue.datasetversion",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["version", "row", "field", "id"], name="version_problem_order"
                    )
                ],
            },
        ),
    ]
