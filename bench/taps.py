"""Badge presented → `Tap` delivered to the sink: p50/p99 through each reader driver, versus the bare
library detecting the same card in the same run.

PC/SC: pcscd (started here when it is not running and we are root) with Debian's vsmartcard-vpcd reader
"Virtual PCD 00 00" and our virtual card process (drivers/sim/vpcd_card.py). Each cycle inserts a card
with a new UID and times from the insert command to the tap at the sink; then removes it and waits until
the driver has seen it go.
  driver   `PcscReader` (SCardGetStatusChange → SCardConnect → FF CA 00 00 00 → Debounce → sink)
  bare     the same pyscard calls in a plain loop (wait for PRESENT, connect, transmit): the baseline;
           pcscd's own detection (it polls vpcd) dominates both
  apdu     the bare `FF CA 00 00 00` transmit round trip on a connected card (p50), for scale

NFC: nfcpy's udp frontend with the emulated badge (drivers/sim/nfc_tag.py) presenting a 7-byte
ISO 14443-A UID for 0.3 s; from the present command to the tap at the sink.
  driver   `NfcReader` (path udp:127.0.0.1:PORT, targets 106A, poll every --poll-ms)
  bare     a plain loop of nfcpy `clf.sense(RemoteTarget("106A"), iterations=1)` with the same poll interval
           until the UID comes back: the baseline

Rounds alternate driver and bare so that load changes hit both. Nothing is asserted.

    python bench/taps.py [--n 20] [--poll-ms 100] [--only pcsc|nfc]
"""
from __future__ import annotations

import argparse
import queue
import shutil
import subprocess
import threading
import time

from _common import describe, percentile, ratio, result  # (also puts the repo root on the path)
from _common import stats as common_stats


def stats(values_s: list[float]) -> dict:
    """In ms: p50, p99 (from >= 200 taps, else the max of N: _common.stats), max."""
    return common_stats([v * 1000 for v in values_s], digits=2)


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return False


# -- PC/SC ---------------------------------------------------------------------------------------------

def ensure_pcscd():
    """(process we started or None, why not available or None)."""
    try:
        from smartcard import scard
    except ImportError:
        return None, "pyscard not installed"

    def up() -> bool:
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr == scard.SCARD_S_SUCCESS:
            hr2, names = scard.SCardListReaders(ctx, [])
            scard.SCardReleaseContext(ctx)
            return hr2 == scard.SCARD_S_SUCCESS and any("Virtual PCD" in n for n in names)
        return False

    if up():
        return None, None
    if not shutil.which("pcscd"):
        return None, "pcscd not installed (apt-get install pcscd vsmartcard-vpcd)"
    p = subprocess.Popen(["pcscd", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_for(up, 15):
        p.terminate()
        return None, "pcscd did not come up with a vpcd reader (root? vsmartcard-vpcd?)"
    return p, None


def bench_pcsc(n: int, rounds: int) -> dict:
    from smartcard import scard

    from drivers.pcsc import GET_UID, PcscConfig, PcscReader, parse_uid_response
    from drivers.sim.badges import Badges

    sim = Badges()
    sim.add_pcsc("B", 35963)
    got: queue.Queue = queue.Queue()
    drv = PcscReader(PcscConfig(type="pcsc", name="B", reader="Virtual PCD 00 00", rearm_after_s=0),
                     lambda tap: got.put((time.perf_counter(), tap)))
    drv.start()
    wait_for(lambda: drv.health()["status"] == "ok", 10)
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    name = "Virtual PCD 00 00"
    driver_lat, bare_lat, apdu = [], [], []
    k = 0
    try:
        for _ in range(rounds):
            for _ in range(n // rounds):
                k += 1
                uid = f"04{k:012X}"
                t0 = time.perf_counter()
                sim.insert("B", uid)
                t1, tap = got.get(timeout=10)
                assert tap.uid == uid, (tap, uid)
                driver_lat.append(t1 - t0)
                sim.remove("B")
                wait_for(lambda: not drv.debounce.on_reader, 5)
            drv.stop()  # the bare loop alone on pcscd, as the driver was
            for _ in range(n // rounds):
                k += 1
                uid = f"04{k:012X}"
                hr, st = scard.SCardGetStatusChange(ctx, 0, [(name, scard.SCARD_STATE_UNAWARE)])
                state = st[0][1] & ~scard.SCARD_STATE_CHANGED
                t0 = time.perf_counter()
                ins = threading.Thread(target=sim.insert, args=("B", uid))
                ins.start()
                while True:
                    hr, st = scard.SCardGetStatusChange(ctx, 5000, [(name, state)])
                    state = st[0][1] & ~scard.SCARD_STATE_CHANGED
                    if state & scard.SCARD_STATE_PRESENT:
                        break
                hr, card, proto = scard.SCardConnect(ctx, name, scard.SCARD_SHARE_SHARED,
                                                     scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
                hr, resp = scard.SCardTransmit(card, proto, GET_UID)
                bare_lat.append(time.perf_counter() - t0)
                assert parse_uid_response(resp) == uid
                for _ in range(20):
                    a0 = time.perf_counter()
                    scard.SCardTransmit(card, proto, GET_UID)
                    apdu.append(time.perf_counter() - a0)
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
                ins.join()
                sim.remove("B")
                while True:
                    hr, st = scard.SCardGetStatusChange(ctx, 5000, [(name, state)])
                    state = st[0][1] & ~scard.SCARD_STATE_CHANGED
                    if not state & scard.SCARD_STATE_PRESENT:
                        break
            drv = PcscReader(drv.config, drv.sink)
            drv.start()
            wait_for(lambda: drv.health()["status"] == "ok", 10)
    finally:
        drv.stop()
        scard.SCardReleaseContext(ctx)
        sim.close()
    d, b = stats(driver_lat), stats(bare_lat)
    return {"driver": d, "bare": b, "apdu_p50_ms": round(percentile([a * 1000 for a in apdu], 50), 3),
            "ratio_p50": ratio(d["p50"], b["p50"]), "ratio_p99": ratio(d["tail"], b["tail"])}


# -- NFC -----------------------------------------------------------------------------------------------

def bench_nfc(n: int, rounds: int, poll_s: float) -> dict:
    import nfc
    import nfc.clf

    from drivers.nfc import NfcConfig, NfcReader, uid_from_target
    from drivers.reader import MalformedRead
    from drivers.sim.badges import Badges

    sim = Badges()
    entry = sim.add_nfc("N", rearm_after_s=0, poll_interval_s=poll_s)
    got: queue.Queue = queue.Queue()
    driver_lat, bare_lat = [], []
    k = 0
    try:
        for _ in range(rounds):
            drv = NfcReader(NfcConfig(**entry), lambda tap: got.put((time.perf_counter(), tap)))
            drv.start()
            wait_for(lambda: drv.health()["status"] == "ok", 10)
            time.sleep(0.3)
            for _ in range(n // rounds):
                k += 1
                uid = f"04{k:012X}"
                t0 = time.perf_counter()
                sim.present("N", uid, hold_s=0.3, wait=False)
                t1, tap = got.get(timeout=10)
                assert tap.uid == uid, (tap, uid)
                driver_lat.append(t1 - t0)
                sim.drain()
                wait_for(lambda: not drv.debounce.on_reader, 5)
            drv.stop()
            clf = nfc.ContactlessFrontend(entry["path"])
            target = nfc.clf.RemoteTarget("106A")
            try:
                for _ in range(n // rounds):
                    k += 1
                    uid = f"04{k:012X}"
                    # the bare loop is already polling when the card comes, as the driver is
                    stop_at = [None]
                    seen = threading.Event()

                    def poll():
                        while not seen.is_set():
                            t = clf.sense(target, iterations=1)
                            if t is not None:
                                try:
                                    if uid_from_target(t) == uid:
                                        stop_at[0] = time.perf_counter()
                                        seen.set()
                                        return
                                except MalformedRead:
                                    pass
                            time.sleep(poll_s)

                    th = threading.Thread(target=poll)
                    th.start()
                    time.sleep(0.3)
                    t0 = time.perf_counter()
                    sim.present("N", uid, hold_s=0.3, wait=False)
                    seen.wait(10)
                    bare_lat.append(stop_at[0] - t0)
                    th.join()
                    sim.drain()
            finally:
                clf.close()
    finally:
        sim.close()
    d, b = stats(driver_lat), stats(bare_lat)
    return {"driver": d, "bare": b, "poll_ms": round(poll_s * 1000),
            "ratio_p50": ratio(d["p50"], b["p50"]), "ratio_p99": ratio(d["tail"], b["tail"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="taps per side and backend")
    ap.add_argument("--rounds", type=int, default=2, help="alternating driver/bare rounds")
    ap.add_argument("--poll-ms", type=float, default=100, help="the nfc reader's poll interval")
    ap.add_argument("--only", choices=("pcsc", "nfc"))
    a = ap.parse_args()
    out: dict = {}
    if a.only in (None, "nfc"):
        r = bench_nfc(a.n, a.rounds, a.poll_ms / 1000)
        out["nfc"] = r
        print(f"nfc udp  present→Tap  {describe(r['driver'])}\n  bare nfcpy sense loop {describe(r['bare'])}\n"
              f"  ratio p50 {r['ratio_p50']}x {r['driver']['tail_label']} {r['ratio_p99']}x  (poll {r['poll_ms']} ms)")
    if a.only in (None, "pcsc"):
        proc, why = ensure_pcscd()
        if why:
            print(f"pcsc: skipped ({why})")
            out["pcsc"] = {"skipped": why}
        else:
            try:
                r = bench_pcsc(a.n, a.rounds)
            finally:
                if proc is not None:
                    proc.terminate()
                    proc.wait(15)
            out["pcsc"] = r
            print(f"pcsc vpcd insert→Tap  {describe(r['driver'])}\n  bare pyscard {describe(r['bare'])}\n"
                  f"  ratio p50 {r['ratio_p50']}x {r['driver']['tail_label']} {r['ratio_p99']}x  "
                  f"(FF CA round trip p50 {r['apdu_p50_ms']} ms)")
    result("taps", **out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
