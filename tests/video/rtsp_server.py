#!/usr/bin/python3
"""Serves video over RTSP on 127.0.0.1 with GStreamer's RTSP server, for
crtd's tests. Prints the bound port on stdout, then serves until killed.

usage: rtsp_server.py [--lower udp|tcp|any] [--relay] [--report-clients]
                      SOURCE [PORT] [MOUNT]

  SOURCE            an H.264 MP4 clip, given to each client from its start and
                    paced in real time; with --relay, an rtsp:// URL instead
  PORT              0 or absent: any free port
  MOUNT             the path served, /clip by default
  --lower           the lower transports offered: udp answers a TCP
                    interleaved SETUP with 461 Unsupported Transport, as some
                    cameras do (default any)
  --relay           a restreamer in the way of go2rtc: one connection pulls
                    SOURCE (rtspsrc, only once the first client comes) and
                    every client is served from it (a shared media)
  --report-clients  prints "client" on stdout for every RTSP connection
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

LOWER = {
    "udp": GstRtsp.RTSPLowerTrans.UDP,
    "tcp": GstRtsp.RTSPLowerTrans.TCP,
    "any": GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP,
}


def quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--lower", choices=sorted(LOWER), default="any")
    ap.add_argument("--relay", action="store_true")
    ap.add_argument("--report-clients", action="store_true")
    ap.add_argument("source", nargs="?")
    ap.add_argument("port", nargs="?", type=int, default=0)
    ap.add_argument("mount", nargs="?", default="/clip")
    args = ap.parse_args()
    if not args.source:
        print(__doc__, file=sys.stderr)
        return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.relay:
        # The camera's H.264 as it comes, repacketised: no decoding.
        factory.set_launch(
            f"( rtspsrc location={quoted(args.source)} latency=100 ! rtph264depay "
            "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory.set_shared(True)
    else:
        factory.set_launch(
            f"( filesrc location={quoted(args.source)} ! qtdemux ! h264parse "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    factory.set_protocols(LOWER[args.lower])
    server.get_mount_points().add_factory(args.mount, factory)
    if args.report_clients:
        server.connect("client-connected", lambda *_: print("client", flush=True))
    if server.attach(None) == 0:
        print(f"rtsp_server.py: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(server.get_bound_port(), flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
