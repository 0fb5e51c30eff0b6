"""Servers for the isolation tests (module-level so a spawned child imports them)."""

import ctypes
import os
import time


class Server:
    def echo(self, value):
        return value

    def pid(self):
        return os.getpid()

    def imported(self, module):
        import sys

        return module in sys.modules

    def fail(self):
        raise ValueError("bad input")

    def segfault(self):
        ctypes.string_at(0)  # a real SIGSEGV in native code

    def hang(self):
        time.sleep(3600)


def broken_factory():
    raise RuntimeError("cannot build the server")
