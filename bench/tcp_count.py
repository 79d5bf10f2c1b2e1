#!/usr/bin/env python3
"""tcp_count: a byte-counting TCP relay for scripts/bench (the sync section).

usage: tcp_count.py HOST:PORT LOG

Listens on 127.0.0.1 (a free port, printed on stdout as "port N" once it
listens), relays each connection to HOST:PORT byte for byte, and when both
directions of a connection have ended appends one line to LOG:

    BYTES_UP BYTES_DOWN

BYTES_UP went from the connecting side to HOST:PORT, BYTES_DOWN back: every
byte on the wire (hello, handshake, encrypted records and their framing),
not counting TCP/IP headers. Runs until SIGTERM or SIGINT.
"""
import os
import signal
import socket
import sys
import threading

CHUNK = 1 << 18


def pump(src, dst, counts, i, done):
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        while True:
            n = src.recv_into(buf)
            if n == 0:
                break
            dst.sendall(view[:n])
            counts[i] += n
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.release()


def relay(client, target, log, lock):
    counts = [0, 0]
    try:
        upstream = socket.create_connection(target)
    except OSError as e:
        print(f"tcp_count: cannot reach {target[0]}:{target[1]}: {e}", file=sys.stderr)
        client.close()
        return
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = threading.Semaphore(0)
    threads = [
        threading.Thread(target=pump, args=(client, upstream, counts, 0, done), daemon=True),
        threading.Thread(target=pump, args=(upstream, client, counts, 1, done), daemon=True),
    ]
    for t in threads:
        t.start()
    done.acquire()
    done.acquire()
    client.close()
    upstream.close()
    with lock:
        with open(log, "a") as f:
            f.write(f"{counts[0]} {counts[1]}\n")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    host, _, port = sys.argv[1].rpartition(":")
    target = (host, int(port))
    log = sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    lock = threading.Lock()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print(f"port {srv.getsockname()[1]}", flush=True)
    while True:
        client, _ = srv.accept()
        threading.Thread(target=relay, args=(client, target, log, lock), daemon=True).start()


if __name__ == "__main__":
    main()
