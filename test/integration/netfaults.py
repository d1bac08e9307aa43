"""Network faults for the integration tests: pgdts in a network namespace of
its own, one veth link to the source and one to the destination, each of
which can be cut or made lossy (nftables in that namespace), and a TCP proxy
that adds latency.

    root namespace                          namespace pgdtsf<N>
    source   listens on 10.200.x.1  <-- link "source" -->  10.200.x.2
    dest     listens on 10.200.x.5  <-- link "dest" ---->  10.200.x.6   pgdts

The clusters stay in the root namespace (the harness reaches them on
127.0.0.1 whatever a link's state); only pgdts' traffic crosses the links.
Faults are nftables rules on the namespace's ends of the links, at the
netdev ingress and egress hooks: a dropped packet vanishes as on a broken
wire, and no local socket is told (an `ip link down` would make every send
fail at once instead, which no real outage does).  Everything lives in the
namespace, so deleting it removes the links and the rules with it.

Names and subnets are picked per run from the process id and checked
against what exists, so a leftover of a killed run never collides.

Needs root, `ip` (iproute2) and `nft` (nftables).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import threading
from typing import Sequence

NFT_TABLE = "pgdts_faults"
# 10.200.0.0/15, 8 addresses (two /30 links) per network.
_BASE = ipaddress.IPv4Address("10.200.0.0")
_SLOTS = 16384
_lock = threading.Lock()
_made = 0


def missing_tools() -> list[str]:
    return [t for t in ("ip", "nft") if shutil.which(t) is None]


def _run(cmd: Sequence[str]) -> None:
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({r.returncode}): {r.stderr.strip()}")


def _existing_names_and_addrs() -> tuple[set[str], str]:
    names = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                               text=True).stdout.split())
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    addrs = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    names.update(l.split(":")[1].strip().split("@")[0] for l in links.splitlines() if ":" in l)
    return names, addrs


def _pick_slot() -> int:
    """A network number of this process that no namespace, link or address
    on the host uses yet."""
    global _made
    with _lock:
        names, addrs = _existing_names_and_addrs()
        for _ in range(_SLOTS):
            slot = (os.getpid() * 16 + _made) % _SLOTS
            _made += 1
            first = _BASE + slot * 8
            taken = {f"pgdtsf{slot}", f"pf{slot}s", f"pf{slot}d"} & names
            hosts = (f"inet {first + 1}/", f"inet {first + 5}/")   # Link.host_addr of each
            if not taken and not any(h in addrs for h in hosts):
                return slot
    raise RuntimeError("no free network slot for a fault namespace")


class Link:
    """One veth pair: `host_addr` on the root namespace's end (a cluster
    listens there), `ns_addr` on the end in pgdts' namespace."""

    def __init__(self, name: str, host_if: str, ns_if: str, first: ipaddress.IPv4Address):
        self.name, self.host_if, self.ns_if = name, host_if, ns_if
        self.host_addr, self.ns_addr = str(first + 1), str(first + 2)

    @property
    def chains(self) -> tuple[str, str]:
        return f"{self.name}_in", f"{self.name}_out"


class FaultNetwork:
    """A namespace for pgdts with a link to the source and one to the
    destination; `cut()`, `heal()` and `lose()` change what crosses them.
    `remove()` deletes it all (call it in a finalizer)."""

    def __init__(self) -> None:
        slot = _pick_slot()
        self.ns = f"pgdtsf{slot}"
        first = _BASE + slot * 8
        self.source = Link("source", f"pf{slot}s", f"pf{slot}sn", first)
        self.dest = Link("dest", f"pf{slot}d", f"pf{slot}dn", first + 4)
        self._created = False
        try:
            self._create()
        except Exception:
            self.remove()
            raise

    @property
    def links(self) -> tuple[Link, Link]:
        return self.source, self.dest

    def prefix(self) -> list[str]:
        """Runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.ns]

    def _in_ns(self, *cmd: str) -> None:
        _run(self.prefix() + list(cmd))

    def _create(self) -> None:
        _run(["ip", "netns", "add", self.ns])
        self._created = True
        self._in_ns("ip", "link", "set", "lo", "up")
        for link in self.links:
            _run(["ip", "link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if])
            _run(["ip", "link", "set", link.ns_if, "netns", self.ns])
            _run(["ip", "addr", "add", f"{link.host_addr}/30", "dev", link.host_if])
            _run(["ip", "link", "set", link.host_if, "up"])
            self._in_ns("ip", "addr", "add", f"{link.ns_addr}/30", "dev", link.ns_if)
            self._in_ns("ip", "link", "set", link.ns_if, "up")
        chains = []
        for link in self.links:
            chain_in, chain_out = link.chains
            chains.append(f'chain {chain_in} {{ type filter hook ingress device "{link.ns_if}" '
                          "priority 0; policy accept; }")
            chains.append(f'chain {chain_out} {{ type filter hook egress device "{link.ns_if}" '
                          "priority 0; policy accept; }")
        self._nft(f"table netdev {NFT_TABLE} {{\n" + "\n".join(chains) + "\n}\n")

    def _nft(self, script: str) -> None:
        r = subprocess.run(self.prefix() + ["nft", "-f", "-"], input=script,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nft in {self.ns} failed: {r.stderr.strip()}\n{script}")

    def _rule_on(self, link: Link, rule: str) -> None:
        self._nft("".join(f"add rule netdev {NFT_TABLE} {c} {rule}\n" for c in link.chains))

    def cut(self, link: Link) -> None:
        """Every packet on the link is dropped, both ways."""
        self._rule_on(link, "counter drop")

    def lose(self, percent: int, link: Link | None = None) -> None:
        """Drops `percent` % of the packets, each way, at random (on both
        links unless one is given)."""
        for each in [link] if link else self.links:
            self._rule_on(each, f"numgen random mod 100 < {percent} counter drop")

    def dropped(self) -> int:
        """Packets the faults dropped since they were last healed."""
        r = subprocess.run(self.prefix() + ["nft", "list", "table", "netdev", NFT_TABLE],
                           capture_output=True, text=True, check=True)
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", r.stdout))

    def heal(self, link: Link | None = None) -> None:
        """Removes the faults of a link (of both unless one is given)."""
        self._nft("".join(f"flush chain netdev {NFT_TABLE} {c}\n"
                          for each in ([link] if link else self.links) for c in each.chains))

    def remove(self) -> None:
        """Deleting the namespace deletes its veth ends, which takes their
        peers in the root namespace and the nft table along."""
        if self._created:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
            self._created = False
        for link in self.links:   # a half-made pair left in the root namespace
            subprocess.run(["ip", "link", "del", link.host_if], capture_output=True)


# ---------------------------------------------------------------------------
# latency

class DelayProxy:
    """A TCP proxy that delays every byte by rtt/2 in each direction (so a
    round trip through it takes `rtt_ms` more), without limiting bandwidth:
    what was read is written once its time has come, in order.  The kernel
    has no netem here, so latency is added in user space; the proxy runs an
    asyncio loop in a thread of the test process.

    Listens on (listen_host, an ephemeral port: `.port`) and connects each
    client to (target_host, target_port)."""

    def __init__(self, listen_host: str, target_host: str, target_port: int,
                 rtt_ms: float) -> None:
        self.target = (target_host, target_port)
        self.delay = rtt_ms / 2000.0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(listen_host,), daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"delay proxy did not start: {self._error}")

    _error: BaseException | None = None

    def _serve(self, listen_host: str) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._accept, listen_host, 0, reuse_address=True))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as e:  # reported by __init__
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _accept(self, client_r, client_w) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self.connections += 1
        for w in (client_w, server_w):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copies reader to writer, each chunk written `delay` after it was
        read; the end (or an error) of either side closes the other."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(1 << 16):
                    queue.put_nowait((loop.time() + self.delay, data))
            except OSError:
                pass
            queue.put_nowait((loop.time() + self.delay, b""))

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            reading.cancel()
            writer.close()

    def close(self) -> None:
        """Stops listening and drops every connection it carries."""
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
