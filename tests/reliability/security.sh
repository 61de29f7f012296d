#!/bin/bash
# Security checks against a real crtd: tests/reliability/security.py.
exec /usr/bin/python3 "$(dirname "$0")/security.py" "$@"
