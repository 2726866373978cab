"""Network faults for end-to-end tests: Python loads this module at start-up when a test puts
this directory on the target's PYTHONPATH (see `tests.not_hubspot.network_faults`).

`TEST_NETWORK_FAULTS` maps a host name to what looking it up or connecting to it does:
`{"name": "EAI_AGAIN", "times": 1}` fails the first lookup that way (then it resolves to
127.0.0.1); `{"name": "EAI_NONAME"}` always fails; `{"connect": "EHOSTUNREACH"}` resolves to
127.0.0.2 and fails every connection there with that error.
"""

from __future__ import annotations

import errno
import json
import os
import socket

_FAULTS = json.loads(os.environ.get("TEST_NETWORK_FAULTS", "{}"))
_UNREACHABLE = "127.0.0.2"
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


def _getaddrinfo(host, *args, **kwargs):
    fault = _FAULTS.get(host)
    if fault is None:
        return _real_getaddrinfo(host, *args, **kwargs)
    if "name" in fault and fault.get("times", 1) > 0:
        if "times" in fault:
            fault["times"] -= 1
        name = fault["name"]
        raise socket.gaierror(getattr(socket, name), _GAI_MESSAGES.get(name, name))
    address = _UNREACHABLE if "connect" in fault else "127.0.0.1"
    return _real_getaddrinfo(address, *args, **kwargs)


def _connect(self, address):
    if isinstance(address, tuple) and address[0] == _UNREACHABLE:
        code = getattr(errno, next(f["connect"] for f in _FAULTS.values() if "connect" in f))
        raise OSError(code, os.strerror(code))
    return _real_connect(self, address)


_GAI_MESSAGES = {
    "EAI_AGAIN": "Temporary failure in name resolution",
    "EAI_NONAME": "Name or service not known",
}
if _FAULTS:
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _connect
