"""A real HTTP MJPEG camera (multipart/x-mixed-replace, as IP cameras serve it), for the tests of the
OpenCV backend: it serves JPEG frames and can be told to hang (keep the connection open, send nothing).

    python -m drivers.sim.mjpeg_server PORT [--fps 10] [--hang-after N]

Prints READY once it listens. With `--hang-after N` every connection gets N frames and then silence.
"""
from __future__ import annotations

import argparse
import io
import socketserver
import threading
import time

BOUNDARY = b"frame"


def jpeg(i: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (40, 60, 80))
    ImageDraw.Draw(img).rectangle([10 + (i * 7) % 250, 80, 60 + (i * 7) % 250, 130], fill=(230, 230, 230))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        while self.rfile.readline().strip():  # the request headers
            pass
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY + b"\r\n\r\n")
        i = 0
        try:
            while True:
                if self.server.hang_after is not None and i >= self.server.hang_after:
                    time.sleep(3600)  # a stream that hangs: connected, silent
                data = jpeg(i)
                self.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                self.wfile.flush()
                i += 1
                time.sleep(1 / self.server.fps)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fps: float
    hang_after: int | None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--fps", type=float, default=10)
    ap.add_argument("--hang-after", type=int, default=None)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.fps, srv.hang_after = a.fps, a.hang_after
    print("READY", flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
