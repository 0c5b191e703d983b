"""Errors that name the thing at fault and how to fix it."""

from __future__ import annotations


class TaskTransferError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class TaskError(TaskTransferError, ValueError):
    """A task's registry entry or data is wrong."""

    def __init__(self, task: str, field: str, problem: str):
        self.task, self.field = task, field
        super().__init__(f"task '{task}', field '{field}': {problem}")


class MissingPackageError(TaskTransferError, FileNotFoundError):
    """A data or model package is not available; the message carries the install command."""

    def __init__(self, package: str, command: str, why: str = "", hint: str = ""):
        self.package, self.command = package, command
        extra = f" ({why})" if why else ""
        more = f"\n{hint}" if hint else ""
        super().__init__(f"package {package} is not available{extra}; fetch it with:\n    {command}{more}")


class MissingDataError(TaskTransferError, FileNotFoundError):
    """No provider holds a file a task pins (data folder, package, upstream archive); the one-line
    message names each provider tried and how to get it."""


class FetchError(TaskTransferError, OSError):
    """Downloading a data package failed (index unreachable, no such file, wrong digest)."""


class ArtefactError(TaskTransferError, ValueError):
    """A saved file is corrupt or does not fit (other backbone, other prompt size)."""


class ConfigError(TaskTransferError, ValueError):
    """A configuration value, a command-line value or a YAML file is wrong."""


class UnsafeNameError(TaskTransferError, ValueError):
    """A name that becomes part of a path or a shell line does not fit the one strict pattern."""
