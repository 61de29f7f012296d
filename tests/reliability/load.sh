#!/bin/bash
# Load under wrk and many event-stream clients: tests/reliability/load.py.
exec /usr/bin/python3 "$(dirname "$0")/load.py" "$@"
