"""A named shared-memory mapping of a session segment, made by protocol's C code.

What it is: create (exclusive, mode 0600) or open a segment through `lf_shm_create` /
`lf_shm_open`, then map it with Python's `mmap` so that numpy views of frame slots keep the
mapping alive by themselves (an outstanding view can never point into unmapped memory).
What it is not: `multiprocessing.shared_memory`, whose resource tracker unlinks or warns
about segments it does not own; an attacher here never unlinks and never registers.
"""

from __future__ import annotations

import logging
import mmap
import os

from .native import check, ffi, lib

log = logging.getLogger(__name__)


class SegmentMapping:
    """One process's mapping of a named segment.

    Thread-safety: open/close from one thread; the mapped bytes are shared by design.
    Real-time safe: no (maps and unmaps memory).
    """

    def __init__(self, name: str, *, create_bytes: int | None = None) -> None:
        """Create (`create_bytes` given) or open the segment `name`.

        Raises:
            SessionError: the segment is missing (open), exists (create), or the OS refused.
            ConfigError: the name is empty, too long, or contains a slash.
            ProtocolError: the segment is empty (size 0).
        """
        self.name = name
        self.owner = create_bytes is not None
        shm = ffi.new("lf_shm_t *")
        encoded = name.encode("utf-8")
        where = f"session {name!r}"
        if self.owner:
            check(lib.lf_shm_create(shm, encoded, create_bytes), f"{where}: create")
        else:
            code = lib.lf_shm_open(shm, encoded)
            if code == lib.LF_E_NOT_FOUND:
                msg = f"expected a segment named {name!r}, found none (is the host running?)"
                check(code, where, ffi.new("char[]", msg.encode()))
            if code == lib.LF_E_TOO_SMALL:
                err = ffi.new("char[]", b"segment size: expected at least 1024 bytes, found 0")
                check(code, where, err)
            check(code, f"{where}: attach")
        self.platform_name = ffi.string(shm.name).decode("utf-8")
        self.size = int(shm.size)
        try:
            if os.name == "nt":
                self.mmap = mmap.mmap(-1, self.size, tagname=self.platform_name)
            else:
                self.mmap = mmap.mmap(int(shm.fd), self.size)
        finally:
            # Python's mapping (and its own handle) now keeps the segment; drop C's.
            lib.lf_shm_close(shm)
        self.base = ffi.from_buffer(self.mmap)

    def close(self, *, unlink: bool = False) -> None:
        """Unmap (deferred while numpy views of the segment live) and optionally unlink."""
        if self.base is not None:
            ffi.release(self.base)
            self.base = None
            try:
                self.mmap.close()
            except BufferError:
                # Views still reference the memory; the mmap object stays alive as their
                # base and unmaps when the last one is garbage-collected.
                log.info("session %s: unmapping deferred until frame views are released", self.name)
        if unlink and self.owner:
            code = lib.lf_shm_unlink(self.name.encode("utf-8"))
            if code != lib.LF_E_NOT_FOUND:
                check(code, f"session {self.name!r}: unlink")
            self.owner = False


def unlink_segment(name: str) -> bool:
    """Remove a segment name left behind by a crashed host. Returns False if absent."""
    code = lib.lf_shm_unlink(name.encode("utf-8"))
    if code == lib.LF_E_NOT_FOUND:
        return False
    check(code, f"session {name!r}: unlink")
    return True
