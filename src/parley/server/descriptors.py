"""The process's file-descriptor table, grown once at start-up instead of while clients connect.

Linux grows a process's descriptor table by doubling it when a new descriptor does not fit, and
in a process with more than one thread (`parley serve` has its history writer's) each growth
waits for an RCU grace period. Measured here (bench/alternatives/stalls.py) while 5,000 clients
connected: accept() slept in synchronize_rcu for 10-35 ms, several times per storm, and every
relay waited behind it. Grown to the open-files limit before anyone connects, the table never
grows again: the wait happens once, at start-up. A slot costs 8 bytes; at most MAX_SLOTS.
"""

import errno
import fcntl
import logging
import os
import resource

log = logging.getLogger(__name__)

MAX_SLOTS = 1 << 16


def grow_descriptor_table() -> int:
    """Makes room for descriptors up to the open-files limit (at most MAX_SLOTS); returns the
    number of slots the table now has at least (0 if it could not be grown: the server runs
    anyway, and the table grows as it would have)."""
    try:
        return _grow()
    except OSError as error:
        log.warning("could not grow the descriptor table at start-up: %s", error)
        return 0


def _grow() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    slots = MAX_SLOTS if soft == resource.RLIM_INFINITY else min(soft, MAX_SLOTS)
    highest = slots - 1
    if highest < 3:
        return slots
    try:
        fcntl.fcntl(highest, fcntl.F_GETFD)
        return slots  # already open: the table is that large
    except OSError as error:
        if error.errno != errno.EBADF:
            raise
    # dup2 onto the highest number grows the table to hold it; the slot is freed at once.
    spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.dup2(spare, highest, inheritable=False)
        os.close(highest)
    finally:
        os.close(spare)
    return slots
