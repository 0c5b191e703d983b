"""The upstream repository's archive at a pinned commit: where it is served and downloading it.

GitHub serves every commit of a public repository as a gzipped tar (``REPO-COMMIT/`` inside);
``TASKTRANSFER_GITHUB_URL`` points elsewhere (a mirror, a loopback server in the tests). The
archive is streamed to a temporary file beside its final place and renamed only once it is whole;
the files in it are checked against their own pins when a task reads them (the archive of a
commit has no published digest), so a wrong or altered archive is refused at the first read.
"""

from __future__ import annotations

import os
import shlex
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tasktransfer.data.package_fetch import put_in_place, stream_download
from tasktransfer.data.pins import Repository
from tasktransfer.data.providers import repo_archive_path
from tasktransfer.errors import FetchError

#: where archives of commits are served: ``{base}/{owner}/{repo}/tar.gz/{commit}``
DEFAULT_GITHUB = "https://codeload.github.com"
GITHUB_ENV = "TASKTRANSFER_GITHUB_URL"


def archive_url(repo: Repository) -> str:
    base = (os.environ.get(GITHUB_ENV) or DEFAULT_GITHUB).rstrip("/")
    return f"{base}/{repo.name}/tar.gz/{repo.commit}"


def fetch_repo_command(repo: Repository, resources: Path) -> str:
    return f"tasktransfer fetch --repo {repo.name} --resources {shlex.quote(str(resources))}"


def is_served(repo: Repository, timeout: float = 10) -> tuple[bool, str]:
    """Whether the archive of the pinned commit answers a HEAD request now, and what was seen."""
    request = urllib.request.Request(archive_url(repo), method="HEAD", headers={"User-Agent": "tasktransfer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200, f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return False, f"unreachable ({getattr(err, 'reason', err)})"


def download_repo_archive(
    repo: Repository, resources: Path, timeout: float = 60, log: Callable[[str], None] = print
) -> Path:
    """Download the archive of ``repo`` at its commit into ``<resources>/github/OWNER/``; nothing
    is left behind when it fails."""
    final = repo_archive_path(resources, repo)
    if final.is_file():
        log(f"{final} is already here; not downloading")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    url = archive_url(repo)
    try:
        tmp, done, digest = stream_download(url, final.parent, final.name, timeout, log)
    except (urllib.error.URLError, OSError) as err:
        raise FetchError(
            f"{repo.name} at {repo.commit}: downloading {url} failed ({getattr(err, 'reason', err)}); nothing was "
            f"kept. Where there is no network, use a data folder (data_dir or $TASKTRANSFER_DATA) with "
            f"github/{repo.name}/ cloned at that commit"
        ) from err
    if done == 0:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{url} answered with an empty body; nothing was kept")
    put_in_place(tmp, final)  # no published digest: the files in it are checked against their pins when read
    log(f"saved {final} ({done} bytes, sha256 {digest})")
    return final
