#!/bin/sh
# A consistent copy of the outbox ledger (mail.ledger, an SQLite file): the
# record of every message queued and sent, which keeps a message from going
# twice. Safe while jobs run (SQLite's online backup). Usage:
#   deploy/backup-ledger.sh /opt/hoithao/outbox.db /var/backups/hoithao [DAYS]
# The copy holds names and addresses: it is written mode 600, and this
# script's own copies (outbox-*.db) older than DAYS (30) are deleted.
set -eu
ledger=${1:?the ledger file, e.g. /opt/hoithao/outbox.db}
dest=${2:?the backup folder}
keep_days=${3:-30}
umask 077
mkdir -p "$dest"
stamp=$(date +%Y%m%d-%H%M%S)
python3 - "$ledger" "$dest/outbox-$stamp.db" <<'PY'
import sqlite3, sys
from pathlib import Path
src = sqlite3.connect(Path(sys.argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
with dst:
    src.backup(dst)
dst.close(); src.close()
PY
find "$dest" -maxdepth 1 -type f -name 'outbox-*.db' -mtime +"$keep_days" -delete
echo "$dest/outbox-$stamp.db"
