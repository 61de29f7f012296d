#!/bin/bash
# The soak under AddressSanitizer and UndefinedBehaviorSanitizer: tests/reliability/soak.py.
exec /usr/bin/python3 "$(dirname "$0")/soak.py" "$@"
