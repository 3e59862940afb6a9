"""The catalogue's pages, a module for each part: ``datasets`` (the list of datasets, a
dataset's page and its metadata record), ``editing`` (adding a dataset, changing its details,
fields and style, withdrawing and restoring it), ``loads`` (uploads and their runs, refreshing a
source), ``versions`` (a version's report, differences between versions, rollback); ``lookups``
holds what they share."""
