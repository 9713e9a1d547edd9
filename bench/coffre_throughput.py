"""Throughput of the encrypted vault against the plain object store it is built on.

For each size, a generated JPEG (header, then padding lines in its scan, made chunk by chunk
and never held whole in memory) is deposited through `coffre.vault.Vault.deposit` and read back
through `Vault.plaintext`, then stored and read back on the same backend with a plain
`store.put` / `store.open`. The best of --repeat runs of each is kept. Prints MiB/s, the
vault/plain ratios and the process peak RSS; it is a benchmark, not a test.

    .venv/bin/python bench/coffre_throughput.py [--sizes 1,50,500] [--store file|s3] [--repeat N]

Sizes are in MiB (1 MB here = 1,048,576 bytes). `--store s3` runs moto's standalone S3
server on a free loopback port for the duration of the run, with `stockage.MinioStore`.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cryptography
from sqlalchemy.orm import Session

from coffre.clock import SystemClock
from coffre.db import make_engine, make_session_factory
from coffre.keyring import new_key_text, parse_keyring
from coffre.models import Foyer
from coffre.vault import Limits, Upload, Vault
from stockage import FilesystemStore, MinioStore, ObjectStore
from web import schema

MIB = 1024 * 1024
DEFAULT_SIZES = (1, 50, 500)
MOTO_ACCESS_KEY = "moto-access"
MOTO_SECRET_KEY = "moto-secret-not-real"  # noqa: S105  (moto accepts any credentials)

# A 1x1 JPEG up to its scan: an image streams through the inspection in bounded memory,
# where a PDF is held whole for its parser (within the document limit).
JPEG_HEAD = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
)


class ScanStream:
    """A JPEG of exactly `size` bytes: its header, then padding lines (no 0xFF: no marker).

    Each `read(n)` slices the next n bytes out of one precomputed block of lines, so the
    stream costs about one copy per byte and never holds more than the block and one read.
    """

    LINE = b"%" + b"0123456789abcdef" * 4 + b"\n"
    _BLOCK = LINE * (MIB // len(LINE) + 2)  # > 1 MiB + one line: a 1 MiB read is one slice

    def __init__(self, size: int) -> None:
        self.remaining = size
        self._head = JPEG_HEAD[:size]
        self._phase = 0  # offset inside LINE of the next padding byte

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        parts: list[bytes] = []
        need = size
        if self._head and need:
            parts.append(self._head[:need])
            self._head = self._head[need:]
            need -= len(parts[0])
        line = len(self.LINE)
        while need:
            take = min(need, len(self._BLOCK) - self._phase)
            parts.append(self._BLOCK[self._phase : self._phase + take])
            self._phase = (self._phase + take) % line
            need -= take
        self.remaining -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass
class Best:
    """The best time of each measured operation for one size, in seconds."""

    vault_put: float = float("inf")
    plain_put: float = float("inf")
    vault_read: float = float("inf")
    plain_read: float = float("inf")


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float | None:
    """The resident set size now (Linux only, from /proc/self/status)."""
    try:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux: clear_refs 5), so that ru_maxrss then
    reflects the transfers rather than the imports and migrations before them."""
    try:
        with Path("/proc/self/clear_refs").open("w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def drain(chunks: Iterator[bytes]) -> int:
    """Consume an iterator of byte chunks, returning how many bytes it gave."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
    return total


def measure_size(
    vault: Vault, store: ObjectStore, session: Session, foyer_id: int, size_mib: int, repeat: int
) -> Best:
    """Deposit and read back size_mib MiB via the vault and the plain store, `repeat` times."""
    size = size_mib * MIB
    best = Best()
    for run in range(repeat):
        upload = Upload(
            foyer_id, "justificatif_domicile", "bench.jpg", ScanStream(size), date.today()
        )
        started = time.perf_counter()
        document = vault.deposit(session, upload)
        best.vault_put = min(best.vault_put, time.perf_counter() - started)

        plain_key = f"bench/plain/{size_mib}-{run}-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        stored = store.put(plain_key, ScanStream(size))
        best.plain_put = min(best.plain_put, time.perf_counter() - started)

        started = time.perf_counter()
        read = drain(vault.plaintext(session, document))
        best.vault_read = min(best.vault_read, time.perf_counter() - started)

        started = time.perf_counter()
        with store.open(plain_key) as stream:
            plain_read = drain(stream)
        best.plain_read = min(best.plain_read, time.perf_counter() - started)

        if not read == plain_read == stored.size == document.size == size:
            raise SystemExit(
                f"size mismatch: vault {read}, plain {plain_read}, stored {stored.size}, "
                f"document {document.size}, expected {size}"
            )
        vault.delete_document(session, foyer_id, document.id, None)
        store.delete(plain_key)
    return best


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (our loopback server)
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port; yields its host:port.

    Only the process started here is stopped, by its own handle.
    """
    port = free_port()
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=MOTO_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=MOTO_SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter, fixed arguments)
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            if not wait_until_answering(f"http://127.0.0.1:{port}/", process, 30):
                raise SystemExit(f"moto's S3 server did not start (see {log_path})")
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers in MiB: {text!r}") from None
    if not sizes or any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated sizes in MiB (default 1,50,500)",
    )
    parser.add_argument("--store", choices=("file", "s3"), default="file")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per size, best kept (default 3 up to 50 MiB, 1 above)",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def ratio(vault_seconds: float, plain_seconds: float) -> str:
    """Vault throughput as a percentage of plain throughput."""
    return f"{100 * plain_seconds / vault_seconds:.0f}%"


def run(args: argparse.Namespace, workdir: Path, store: ObjectStore, backend: str) -> None:
    engine = make_engine(f"sqlite:///{workdir / 'bench.sqlite3'}")
    schema.upgrade(engine)
    clock = SystemClock()
    keyring = parse_keyring(f"1:{new_key_text()}", "bench")
    largest = max(args.sizes) * MIB
    limits = Limits(document_bytes=largest + MIB, foyer_bytes=4 * largest + MIB)
    vault = Vault(store, keyring, clock, limits)

    print(f"backend: {backend}")
    print(
        f"python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"sizes (MiB): {','.join(map(str, args.sizes))}; MiB/s are best of the runs shown")
    setup_peak = peak_rss_mib()
    print(f"peak RSS of the setup (imports, migrations): {setup_peak:.1f} MiB")
    if reset_peak_rss():
        print(
            f"peak RSS reset to the current RSS ({current_rss_mib() or 0:.1f} MiB): "
            "the column below is the peak since, cumulative over the sizes"
        )
    else:
        print("peak RSS could not be reset: the column below includes the setup")
    print()
    header = (
        f"{'size':>8} {'runs':>4} | {'vault put':>10} {'plain put':>10} {'ratio':>6} | "
        f"{'vault read':>10} {'plain read':>10} {'ratio':>6} | {'peak RSS':>9}"
    )
    print(header)
    print(
        f"{'MiB':>8} {'':>4} | {'MiB/s':>10} {'MiB/s':>10} {'':>6} | "
        f"{'MiB/s':>10} {'MiB/s':>10} {'':>6} | {'MiB':>9}"
    )
    print("-" * len(header))
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        foyer = Foyer(label="Banc d'essai", created_at=clock.now())
        session.add(foyer)
        session.commit()
        for size_mib in args.sizes:
            repeat = args.repeat or (3 if size_mib <= 50 else 1)
            best = measure_size(vault, store, session, foyer.id, size_mib, repeat)
            print(
                f"{size_mib:>8} {repeat:>4} | "
                f"{size_mib / best.vault_put:>10.1f} {size_mib / best.plain_put:>10.1f} "
                f"{ratio(best.vault_put, best.plain_put):>6} | "
                f"{size_mib / best.vault_read:>10.1f} {size_mib / best.plain_read:>10.1f} "
                f"{ratio(best.vault_read, best.plain_read):>6} | "
                f"{peak_rss_mib():>9.1f}",
                flush=True,
            )
    engine.dispose()
    print("-" * len(header))
    transfers_peak = peak_rss_mib()
    print(
        f"overall peak RSS: {max(setup_peak, transfers_peak):.1f} MiB "
        f"(setup {setup_peak:.1f} MiB, transfers {transfers_peak:.1f} MiB)"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coffre-bench-") as directory:
        workdir = Path(directory)
        if args.store == "file":
            store: ObjectStore = FilesystemStore(workdir / "objects")
            run(args, workdir, store, store.describe())
            return
        with moto_server(workdir / "moto.log") as endpoint:
            bucket = f"bench-{uuid.uuid4().hex[:20]}"
            s3 = MinioStore(endpoint, MOTO_ACCESS_KEY, MOTO_SECRET_KEY, bucket, secure=False)
            run(args, workdir, s3, f"{s3.describe()} (moto server)")


if __name__ == "__main__":
    main()
