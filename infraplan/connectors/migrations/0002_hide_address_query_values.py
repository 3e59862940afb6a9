"""Hide the values of web addresses' queries in what versions and loads recorded before
``fetch.address_shown`` existed: a source's address may carry a key or a signature (``?key=``,
``?sig=``), and a version's source and its load's errors are shown to everyone who may see the
dataset. Only the source's own settings keep the whole address.

The rule is copied here, not imported, so that this migration does the same whatever the code
becomes.
"""

import re

from django.db import migrations

# An address runs to a space, a quote or a bracket; a full stop, comma, colon or semicolon
# just before one of those (or the end) is the sentence's, not the address's.
ADDRESS = re.compile(r"https?://[^\s'\"()<>]+?(?=[.,:;]?(?:[\s'\"()<>]|$))")


def _address_shown(url: str) -> str:
    address, mark, query = url.partition("#")[0].partition("?")
    if not mark:
        return address
    names = [pair.partition("=")[0] if "=" in pair else "" for pair in query.split("&") if pair]
    return f"{address}?" + "&".join(f"{name}=…" if name else "…" for name in names)


def text_hidden(text: str) -> str:
    """``text`` with each web address in it as ``_address_shown`` shows it."""
    return ADDRESS.sub(lambda match: _address_shown(match.group(0)), text)


def hide(apps, schema_editor) -> None:
    DatasetVersion = apps.get_model("catalogue", "DatasetVersion")
    IngestRun = apps.get_model("connectors", "IngestRun")
    versions = []
    for version in DatasetVersion.objects.only("id", "source", "report").iterator():
        error = version.report.get("error") if isinstance(version.report, dict) else None
        source = text_hidden(version.source)
        hidden_error = text_hidden(error) if isinstance(error, str) else error
        if source != version.source or hidden_error != error:
            version.source = source
            if hidden_error != error:
                version.report = {**version.report, "error": hidden_error}
            versions.append(version)
    DatasetVersion.objects.bulk_update(versions, ["source", "report"], batch_size=500)
    runs = []
    for run in IngestRun.objects.filter(error__contains="://").only("id", "error").iterator():
        error = text_hidden(run.error)
        if error != run.error:
            run.error = error
            runs.append(run)
    IngestRun.objects.bulk_update(runs, ["error"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0006_feature_partitioned_by_dataset"),
        ("connectors", "0001_initial"),
    ]

    operations = [migrations.RunPython(hide, migrations.RunPython.noop, elidable=True)]
