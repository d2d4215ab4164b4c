"""Files that hold personal data (names, addresses, letters): folders mode
0700 and files mode 0600 whatever the umask, and never written over a file
that is already there (it may be a person's)."""
from __future__ import annotations

import os
from pathlib import Path


def make_private_dirs(path: Path) -> None:
    """Create `path` and each missing parent, every one mode 0700 whatever the
    umask (folders that already exist are left as they are)."""
    missing = []
    p = Path(path)
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)  # never wider than 0700, even for a moment
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(d, 0o700)


def write_new_private(path: Path, data: bytes) -> None:
    """A new file mode 0600 holding `data`; FileExistsError when there is
    already a file (or anything else) at `path`: it is left as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
