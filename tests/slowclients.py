#!/usr/bin/env python3
"""Hostile HTTP clients for tests/api-hostile.bats: bounded in count and time.

    slowclients.py --port PORT [--host 127.0.0.1] --count N
                   [--sources A,B,...] [--mode slow|busy]
                   [--interval SECONDS] [--duration SECONDS]

slow: each connection sends a request line, then one header line every
      --interval seconds and never ends its headers (slowloris).  A
      connection the server closes is opened again a little later, so the
      pressure lasts for the whole --duration.
busy: each connection sends a whole GET /api/v1/events (a stream that
      stays open) and reads what comes; nothing is reopened.  "streaming"
      is printed once every one has its 200.

Connections are made from the --sources addresses in turn (any 127.0.0.0/8
address works on Linux loopback).  "ready" is printed once N connections
were opened; at the end one JSON line: opened, closed_by_server and
max_lifetime (the longest a slow connection lived, closed by the server
or still open at the end, in seconds) and status (busy: how many answers
of each status came).  Every socket is closed when --duration is over, or on SIGTERM.
"""
import argparse
import json
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--sources", default="127.0.0.1")
    ap.add_argument("--mode", choices=("slow", "busy"), default="slow")
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--duration", type=float, default=10)
    a = ap.parse_args()
    if a.count > 4096 or a.duration > 120:
        sys.exit("slowclients.py: at most 4096 connections for 120 s")
    sources = a.sources.split(",")
    sel = selectors.DefaultSelector()
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    stats = {"opened": 0, "closed_by_server": 0, "max_lifetime": 0.0,
             "status": {}}
    conns = {}          # socket -> [opened_at, next_header_at, n]
    reopen = []         # times at which to open one more
    seq = [0]
    end = time.monotonic() + a.duration

    def open_one():
        src = sources[seq[0] % len(sources)]
        seq[0] += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((src, 0))
            s.settimeout(2)
            s.connect((a.host, a.port))
            if a.mode == "busy":
                s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: loom\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
            else:
                s.sendall(b"GET /api/v1/workflows HTTP/1.1\r\n"
                          b"Host: loom\r\n")
            s.setblocking(False)
        except OSError:
            s.close()
            reopen.append(time.monotonic() + 0.25)
            return
        now = time.monotonic()
        conns[s] = [now, now + a.interval, 0]
        sel.register(s, selectors.EVENT_READ)
        stats["opened"] += 1

    def gone(s):
        opened_at = conns.pop(s)[0]
        sel.unregister(s)
        s.close()
        stats["closed_by_server"] += 1
        if a.mode == "slow":
            life = time.monotonic() - opened_at
            stats["max_lifetime"] = max(stats["max_lifetime"], life)
            reopen.append(time.monotonic() + 0.25)

    for _ in range(a.count):
        open_one()
    print("ready", flush=True)
    while not stop[0] and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                gone(s)
            elif a.mode == "busy" and data.startswith(b"HTTP/"):
                st = data.split(b" ", 2)[1].decode()
                stats["status"][st] = stats["status"].get(st, 0) + 1
                if stats["status"].get("200") == a.count:
                    print("streaming", flush=True)
        now = time.monotonic()
        for s, st in list(conns.items()):
            if a.mode == "slow" and st[1] <= now:
                st[2] += 1
                st[1] = now + a.interval
                try:
                    s.send(b"X-Slow-%d: x\r\n" % st[2])
                except BlockingIOError:
                    pass
                except OSError:
                    gone(s)
        due = [t for t in reopen if t <= now]
        reopen[:] = [t for t in reopen if t > now]
        for _ in due:
            open_one()
    now = time.monotonic()
    for s, st in list(conns.items()):
        if a.mode == "slow":
            life = now - st[0]
            stats["max_lifetime"] = max(stats["max_lifetime"], life)
        s.close()
    stats["max_lifetime"] = round(stats["max_lifetime"], 3)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
