#!/bin/sh
# A consistent copy of the outbox ledger (mail.ledger, an SQLite file): the
# record of every message queued and sent, which keeps a message from going
# twice. Safe while jobs run (SQLite's online backup). Usage:
#   deploy/backup-ledger.sh /opt/hoithao/outbox.db /var/backups/hoithao
# The copy holds names and addresses: it is written mode 600.
set -eu
ledger=${1:?the ledger file, e.g. /opt/hoithao/outbox.db}
dest=${2:?the backup folder}
umask 077
mkdir -p "$dest"
stamp=$(date +%Y%m%d-%H%M%S)
python3 - "$ledger" "$dest/outbox-$stamp.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
with dst:
    src.backup(dst)
dst.close(); src.close()
PY
echo "$dest/outbox-$stamp.db"
