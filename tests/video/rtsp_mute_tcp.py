#!/usr/bin/python3
"""An RTSP proxy on 127.0.0.1 in front of a real RTSP server that passes the
RTSP conversation both ways but drops the video interleaved in it: a camera
that accepts RTSP over TCP and then sends nothing. Over UDP the video goes
from the server to the client directly, so UDP works through it. Prints its
port on stdout, then proxies until killed.

usage: rtsp_mute_tcp.py UPSTREAM_PORT
"""
import socket
import sys
import threading


def pump_requests(client, upstream):
    """Client to server, as it comes."""
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            upstream.sendall(data)
    except OSError:
        pass
    for s in (client, upstream):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump_replies(upstream, client):
    """Server to client: RTSP messages pass, '$' interleaved frames do not."""
    buf = b""
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            buf += data
            while buf:
                if buf[:1] == b"$":
                    if len(buf) < 4:
                        break
                    size = 4 + int.from_bytes(buf[2:4], "big")
                    if len(buf) < size:
                        break
                    buf = buf[size:]  # the video: dropped
                    continue
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[: end + 4]
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if len(buf) < end + 4 + length:
                    break
                client.sendall(buf[: end + 4 + length])
                buf = buf[end + 4 + length:]
    except OSError:
        pass
    for s in (client, upstream):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    upstream_port = int(sys.argv[1])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        threading.Thread(target=pump_requests, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump_replies, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
