"""Content pins: the files a task reads, each pinned by the sha256 of its bytes (a folder by the
digest of its listing), with the repository (at its commit) or package that may provide it.

A registry entry's ``files`` block becomes :class:`PinnedFile` s here, its ``repositories``
block :class:`Repository` s; :mod:`tasktransfer.data.providers` finds and reads them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tasktransfer.errors import ConfigError, TaskError

_SHA = re.compile(r"[0-9a-f]{64}")
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
#: the keys of one entry of a task's ``files`` block
FILE_KEYS = ("sha256", "path", "tree", "include", "repo", "package", "member")


@dataclass(frozen=True)
class Repository:
    """An upstream repository pinned at one commit (the registry's ``repositories`` block)."""

    name: str  # OWNER/REPO
    commit: str
    licence: str = ""

    @property
    def archive_top(self) -> str:
        """The top folder of GitHub's archive of this commit (``REPO-COMMIT/``)."""
        return f"{self.name.split('/')[1]}-{self.commit}/"


@dataclass(frozen=True)
class PinnedFile:
    """One file (or folder) a task reads: its content pin and the providers that may hold it."""

    name: str  # the key in the task's files block (train, dev, data, ...)
    path: str  # the path in the upstream repository (and, unless ``member`` says otherwise, in the package)
    sha256: str | None  # None only for a package member whose archive pin carries it
    tree: bool = False  # a folder: every file under ``path`` that ``include`` matches
    include: tuple[str, ...] = ()  # fnmatch patterns on a tree's relative paths (all files if empty)
    repo: str | None = None
    package: str | None = None
    member: str | None = None  # the path inside the package, if it differs from ``path``

    @property
    def package_path(self) -> str:
        return self.member or self.path

    def wants(self, relative: str) -> bool:
        return not self.include or any(fnmatch.fnmatchcase(relative, p) for p in self.include)


def _checked_path(task: str, field: str, value: Any) -> str:
    """A relative POSIX path with no '..', no absolute start and no backslash (it becomes part of
    a path under the data folder or a member name inside an archive)."""
    if not isinstance(value, str) or not value.strip("/"):
        raise TaskError(task, field, f"must be a relative path, not {value!r}")
    parts = PurePosixPath(value).parts
    if value.startswith("/") or "\\" in value or ".." in parts or any(p.startswith("~") for p in parts):
        raise TaskError(task, field, f"{value!r} must be a plain relative path (no '/', '..', '~' or '\\' at its start)")
    return value.strip("/")


def parse_files(task: str, block: Any, packages: Mapping[str, Any], repositories: Mapping[str, Repository]) -> tuple[PinnedFile, ...]:
    """Check a task's ``files`` block (name -> {sha256, path|tree, repo?, package?, ...})."""
    if not isinstance(block, dict) or not block:
        raise TaskError(task, "files", "must be a mapping of file name -> {sha256, path, repo and/or package}")
    out = []
    for name, entry in block.items():
        where = f"files.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,40}", name):
            raise TaskError(task, "files", f"file name {name!r} must be letters, digits or '_'")
        if not isinstance(entry, dict):
            raise TaskError(task, where, "must be a mapping {sha256, path (or tree), repo and/or package}")
        unknown = sorted(str(k) for k in entry if k not in FILE_KEYS)
        if unknown:
            raise TaskError(task, where, f"has unknown keys {unknown}; the keys are {list(FILE_KEYS)}")
        if ("path" in entry) == ("tree" in entry):
            raise TaskError(task, where, "needs exactly one of `path` (a file) or `tree` (a folder)")
        path = _checked_path(task, f"{where}.path", entry.get("path", entry.get("tree")))
        repo, package = entry.get("repo"), entry.get("package")
        if repo is None and package is None:
            raise TaskError(task, where, "names no provider: give `repo: OWNER/REPO` and/or `package: NAME`")
        if repo is not None and (not isinstance(repo, str) or not _REPO.fullmatch(repo)):
            raise TaskError(task, f"{where}.repo", f"{repo!r} is not OWNER/REPO")
        if repo is not None and repo not in repositories:
            raise TaskError(task, f"{where}.repo", f"'{repo}' is not in the registry's `repositories` block (its commit and licence)")
        if package is not None and package not in packages:
            raise TaskError(task, f"{where}.package", f"'{package}' is not a pinned data package; known: {sorted(packages)}")
        sha = entry.get("sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA.fullmatch(sha)):
            raise TaskError(task, f"{where}.sha256", f"{sha!r} is not a sha256 (64 lowercase hex digits)")
        if sha is None and (package is None or repo is not None or not getattr(packages[package], "sha256", None)):
            raise TaskError(
                task, f"{where}.sha256", "is missing: pin the file's content (`tasktransfer tasks-pin` prints it)"
            )
        include = entry.get("include", [])
        if isinstance(include, str):
            include = [include]
        if not isinstance(include, list) or not all(isinstance(p, str) for p in include):
            raise TaskError(task, f"{where}.include", "must be a list of file-name patterns")
        member = entry.get("member")
        if member is not None:
            member = _checked_path(task, f"{where}.member", member)
        out.append(
            PinnedFile(
                name=name,
                path=path,
                sha256=sha,
                tree="tree" in entry,
                include=tuple(include),
                repo=repo,
                package=package,
                member=member,
            )
        )
    return tuple(out)


def parse_repositories(block: Any) -> dict[str, Repository]:
    """The registry's ``repositories`` block: OWNER/REPO -> {commit, licence}."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise ConfigError("the registry's `repositories` must be a mapping OWNER/REPO -> {commit, licence}")
    out = {}
    for name, entry in block.items():
        if not isinstance(name, str) or not _REPO.fullmatch(name):
            raise ConfigError(f"repositories: {name!r} is not OWNER/REPO")
        if not isinstance(entry, dict) or not isinstance(entry.get("commit"), str) or not _COMMIT.fullmatch(entry["commit"]):
            raise ConfigError(f"repositories: {name} needs `commit:` (40 hex digits), the commit its files are pinned at")
        out[name] = Repository(name, entry["commit"], str(entry.get("licence", "")))
    return out


# --------------------------------------------------------------------------- digests


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_digest(files: Mapping[str, bytes]) -> str:
    """The pin of a folder: sha256 of its ``sha256sum``-style listing (``<sha256>  <relative path>``
    lines in path order), so any provider that holds the same files gives the same digest."""
    listing = "".join(f"{sha256_bytes(files[p])}  {p}\n" for p in sorted(files))
    return sha256_bytes(listing.encode())


