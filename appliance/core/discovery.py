"""mDNS advertisement of `_safety-appliance._tcp` so tablets and satellite reader stations find the box.

Registration takes a second or two (probing), so it runs on its own thread and never delays start-up;
a failure is a degraded `discovery` component in /api/v1/health, not a stopped appliance.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zeroconf import ServiceInfo, Zeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_safety-appliance._tcp.local."


def lan_addresses(candidates: list[str]) -> list[str]:
    """The addresses worth advertising: every IPv4 address that is not loopback (127.0.0.0/8 — a stock
    Raspberry Pi OS maps its hostname to 127.0.1.1 in /etc/hosts, so resolving the hostname finds only
    loopback), sorted; loopback only when the box has nothing else."""
    lan = sorted({ip for ip in candidates if ":" not in ip and not ip.startswith("127.")})
    return lan or ["127.0.0.1"]


def interface_addresses() -> list[str]:
    """Every IPv4 address of the network interfaces themselves, not what the hostname resolves to."""
    import ifaddr  # zeroconf's own dependency for the same job

    return [str(ip.ip) for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4]


def _addresses(interfaces: list[str]) -> list[bytes]:
    if interfaces:
        return [socket.inet_aton(ip) for ip in interfaces if ":" not in ip]
    return [socket.inet_aton(ip) for ip in lan_addresses(interface_addresses())]


class Advertiser:
    def __init__(self, name: str, port: int, interfaces: list[str], properties: dict[str, str]):
        self.name, self.port, self.interfaces, self.properties = name, port, interfaces, properties
        self.state: dict[str, str | int] = {"status": "starting", "reason": "announcing on the LAN (mDNS probing)"}
        self._zc: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._thread: threading.Thread | None = None
        self._announcing: Any = None   # zeroconf's task sending the announcements after the probing

    def start(self) -> None:
        self._thread = threading.Thread(target=self._register, name="zeroconf", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        try:
            from zeroconf import ServiceInfo, Zeroconf

            kw: dict[str, Any] = {"interfaces": self.interfaces} if self.interfaces else {}
            self._zc = Zeroconf(**kw)
            host = self.name.replace(" ", "-")
            self._info = ServiceInfo(SERVICE_TYPE, f"{self.name}.{SERVICE_TYPE}", addresses=_addresses(self.interfaces),
                                     port=self.port, properties=self.properties, server=f"{host}.local.")
            # "safety-appliance" is 16 bytes, one over RFC 6763's 15 for a service name; the GUIDE fixes the
            # name and every browser accepts it, so register without zeroconf's strict length check.
            # Ours once probing found no other holder of the name (RFC 6762 §8.1): from then on it is answered.
            # The three announcements (§8.3, ~0.7 s more) go on in zeroconf's loop instead of being waited for
            # (start to healthy, bench/footprint.py, issue 14).
            assert self._zc.loop is not None
            probed = asyncio.run_coroutine_threadsafe(
                self._zc.async_register_service(self._info, allow_name_change=True, strict=False), self._zc.loop)
            self._announcing = probed.result(timeout=10)
            self.state = {"status": "ok", "service": self._info.name, "port": self.port}
            log.info("advertised on the LAN", extra={"service": self._info.name, "port": self.port})
        except Exception as exc:  # no multicast on this network: report it, keep running
            self.state = {"status": "degraded", "reason": f"mDNS advertisement failed: {exc}"}
            log.warning("mDNS advertisement failed", extra={"error": str(exc)})

    def health(self) -> dict:
        return dict(self.state)

    def stop(self) -> None:
        if self._thread:
            self._thread.join(5)
        if self._zc is not None:
            try:
                if self._info is not None:
                    self._zc.unregister_service(self._info)
            finally:
                self._zc.close()


def find_appliance(timeout: float = 5.0, interfaces: list[str] | None = None,
                   appliance_id: str | None = None) -> str | None:
    """Browse the LAN for `_safety-appliance._tcp` and return the base URL of the first appliance (whose
    TXT `id` is `appliance_id`, when given: a LAN may hold more than one), or None. Used by satellite reader
    stations that were given no URL."""
    from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

    found: list[str] = []
    done = threading.Event()
    kw: dict[str, Any] = {"interfaces": interfaces} if interfaces else {}
    zc = Zeroconf(**kw)

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is not ServiceStateChange.Added or done.is_set():
            return
        info = zeroconf.get_service_info(service_type, name, timeout=2000)
        if info and appliance_id is not None and (info.properties or {}).get(b"id", b"").decode() != appliance_id:
            return
        if info and info.parsed_addresses():
            found.append(f"http://{info.parsed_addresses()[0]}:{info.port}")
            done.set()

    browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
    try:
        done.wait(timeout)
    finally:
        browser.cancel()
        zc.close()
    return found[0] if found else None
