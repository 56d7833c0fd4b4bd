#!/bin/sh
# test_oauth.sh: tests/unit/test_oauth against a private MariaDB (see tests/lib/with-db.sh).
exec sh "${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/with-db.sh" tests/unit/test_oauth
