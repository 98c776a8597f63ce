#!/usr/bin/env python3
"""slowloris.py HOST PORT N SECONDS STATS_FILE

Holds N connections open to an HTTP port, as a slowloris client does: a third
send nothing at all, a third the request line only, a third the request line
and a header; these two thirds then send one more byte every second and never
end the head. A connection the server closes (or answers: 408, 503, ...) is opened
again 0.1 s later, so N stay open. Stops after SECONDS or on SIGTERM, and
writes what it saw to STATS_FILE (one `key value` per line): connections
opened, connect failures, answers by status code, closes without an answer,
and the number open at the end. Used by scripts/bench-slowloris.sh.
"""
import selectors
import signal
import socket
import sys
import time

host, port, n, seconds, stats_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
PARTS = [b"", b"GET /health HTTP/1.1\r\n", b"GET /health HTTP/1.1\r\nHost: bench\r\n"]

stop = False


def on_term(_sig, _frm):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
sel = selectors.DefaultSelector()
stats = {"opened": 0, "connect_failed": 0, "closed_without_answer": 0}
answers = {}
drip = {}  # socket -> next time to send a byte (silent ones: None)
reopen = [0.0] * n  # times at which to open a connection
kind = 0


def open_one():
    global kind
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect((host, port))
        s.sendall(PARTS[kind % 3])
    except OSError:
        stats["connect_failed"] += 1
        s.close()
        return False
    silent = kind % 3 == 0
    kind += 1
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    drip[s] = None if silent else time.monotonic() + 1.0
    stats["opened"] += 1
    return True


def drop(s, when):
    sel.unregister(s)
    drip.pop(s, None)
    s.close()
    reopen.append(when)


end = time.monotonic() + seconds
while not stop and time.monotonic() < end:
    now = time.monotonic()
    due = [t for t in reopen if t <= now]
    reopen = [t for t in reopen if t > now]
    for _ in due:
        if not open_one():
            reopen.append(now + 0.1)
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data.startswith(b"HTTP/1.") and len(data) >= 12:
            code = data[9:12].decode("ascii", "replace")
            answers[code] = answers.get(code, 0) + 1
        else:
            stats["closed_without_answer"] += 1
        drop(s, time.monotonic() + 0.1)
    now = time.monotonic()
    for s, t in list(drip.items()):
        if t is not None and t <= now:
            try:
                s.send(b"X")
                drip[s] = now + 1.0
            except OSError:
                stats["closed_without_answer"] += 1
                drop(s, now + 0.1)

with open(stats_file, "w") as f:
    for k, v in stats.items():
        f.write(f"{k} {v}\n")
    for code in sorted(answers):
        f.write(f"answered_{code} {answers[code]}\n")
    f.write(f"open_at_end {len(drip)}\n")
