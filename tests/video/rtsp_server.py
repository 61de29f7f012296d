#!/usr/bin/python3
"""Serves one H.264 MP4 clip over RTSP on 127.0.0.1 with GStreamer's RTSP
server, for crtd's video tests. Prints the bound port on stdout, then serves
until killed. Each client gets the clip from its start, paced in real time.

usage: rtsp_server.py CLIP [PORT] [MOUNT]   (PORT 0 or absent: any free port)
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    clip = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    mount = sys.argv[3] if len(sys.argv) > 3 else "/clip"

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = clip.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print(f"rtsp_server.py: cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        return 1
    print(server.get_bound_port(), flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
