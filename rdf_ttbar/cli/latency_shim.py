"""A TCP proxy that behaves like a wide-area link: a round-trip time and, optionally, a bandwidth cap.

    python -m rdf_ttbar.cli.latency_shim LISTEN TARGET [--rtt-ms 100] [--mbps 1000]

LISTEN and TARGET are ``PORT`` or ``HOST:PORT`` (host default 127.0.0.1). Every connection to LISTEN is
forwarded to TARGET (e.g. a local xrootd); each chunk of bytes is delivered half the round-trip time after it
was read, in order, in both directions. With ``--mbps``, each direction is one link of that many megabits per
second shared by all connections: a chunk waits until the link is free, then occupies it for its size / rate.
A root:// URL through LISTEN then reads as if the server were RTT away. ``bench --rtt-ms`` starts one per RTT
(:mod:`rdf_ttbar.cli.bench_wan`). Standard library only; stops on SIGINT or SIGTERM. Prints
``latency shim listening on HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

CHUNK = 1 << 20  # bytes read at once from either side


class Link:
    """One direction of the link: in order, an optional rate shared by all connections."""

    def __init__(self, delay_s: float, mbps: float | None):
        self.delay_s = delay_s
        self.bytes_per_s = mbps * 1e6 / 8 if mbps else None
        self.free_at = 0.0

    def due(self, size: int, read_at: float) -> float:
        """When a chunk of ``size`` bytes read at ``read_at`` arrives at the other end."""
        if self.bytes_per_s is None:
            return read_at + self.delay_s
        start = max(read_at, self.free_at)
        self.free_at = start + size / self.bytes_per_s
        return self.free_at + self.delay_s


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
    """Forward ``reader`` to ``writer`` through ``link``; an empty chunk (end of stream) closes the writer."""
    queue: asyncio.Queue = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            await queue.put((link.due(len(data), time.monotonic()), data))
            if not data:
                return

    async def write() -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(read(), write(), return_exceptions=True)


def address(text: str) -> tuple[str, int]:
    """'PORT' or 'HOST:PORT' -> (host, port)."""
    host, _, port = text.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PORT or HOST:PORT, got {text!r}") from None


async def serve(listen: tuple[str, int], target: tuple[str, int], rtt_ms: float, mbps: float | None) -> None:
    """Run the proxy until SIGINT or SIGTERM."""
    up, down = Link(rtt_ms / 2000, mbps), Link(rtt_ms / 2000, mbps)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, up), _pipe(server_reader, client_writer, down), return_exceptions=True
        )

    server = await asyncio.start_server(handle, *listen)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    host, port = server.sockets[0].getsockname()[:2]  # the port chosen when LISTEN is 0
    print(f"latency shim listening on {host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rdf_ttbar.cli.latency_shim", description=__doc__.split("\n")[0])
    p.add_argument("listen", type=address, help="PORT or HOST:PORT to listen on")
    p.add_argument("target", type=address, help="PORT or HOST:PORT to forward to")
    p.add_argument("--rtt-ms", type=float, default=100.0, help="round-trip time added (default 100)")
    p.add_argument("--mbps", type=float, default=None, help="bandwidth cap per direction (default: none)")
    args = p.parse_args(argv)
    if args.rtt_ms < 0 or (args.mbps is not None and args.mbps <= 0):
        p.error("--rtt-ms must be >= 0 and --mbps > 0")
    try:
        asyncio.run(serve(args.listen, args.target, args.rtt_ms, args.mbps))
    except OSError as err:  # the port is taken
        print(
            f"latency shim: cannot listen on {args.listen[0]}:{args.listen[1]}: {err.strerror or err}", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
