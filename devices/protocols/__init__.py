"""One module per device protocol: a pure codec, its HostLink and DeviceLink, and
the thin adapter that puts it on a port (see devices/link.py, devices/stream.py)."""
