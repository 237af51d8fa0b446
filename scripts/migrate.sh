#!/bin/sh
# One-off schema migration to the latest revision, shipped in the web image as `migrate`.
# Run once per deployment (compose `migrate` service, Container Apps job), never by web on start.
set -eu
exec python -m restaurant_shared.migrate upgrade head
