#!/bin/bash
# Fault tests against a real crtd: tests/reliability/faults.py.
exec /usr/bin/python3 "$(dirname "$0")/faults.py" "$@"
