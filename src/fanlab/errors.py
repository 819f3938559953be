"""Errors a user can fix: each names the offending key, file or series. The CLI exits 2."""


class FanlabError(Exception):
    """Base of the user-facing errors."""


class ConfigError(FanlabError):
    """A config that cannot run: names the file and the key path."""

    def __init__(self, message: str, path: str = "", file: str | None = None):
        self.path, self.file, self.message = path, file, message
        where = ": ".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class DataError(FanlabError):
    """Data that cannot be used: names the dataset, file, column, row or series."""


class EngineError(FanlabError):
    """The execution engine cannot run (e.g. dask cannot reach its scheduler); names the option."""


class ForecastError(FanlabError):
    """A forecast that cannot be scored (other origins or horizon, NaN, crossing quantiles, a
    write into the read-only series): names the method and the first offending origin and step."""
