#!/bin/sh
# test_db.sh: tests/unit/test_db against a private MariaDB (see tests/lib/with-db.sh).
exec sh "${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/with-db.sh" tests/unit/test_db
