"""The report layer: figures, the interactive page and its data, compare, summary.md; made from
results files only (`build.finish` after a run, `fanlab report DIR` at any time)."""
