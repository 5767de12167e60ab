"""The command loop of an emulator process that serves many emulated readers ("slots", one per port).

One process per kind (nfc_tag.py, vpcd_card.py), however many readers it emulates: an interpreter with
nfcpy loaded is ~20 MB, too much to spend per checkpoint. Each slot has a thread of its own, so badges are
presented at different readers at once, and one after another at the same reader.

Commands, one per line on stdin; each is answered on stdout with `OK ID` or `ERROR ID why`, in the order
they finish (different slots run in parallel):

    ID add PORT                       open a slot (bind the port / make the card for that vpcd port)
    ID present PORT UID HOLD [MODE]   a badge on the reader for HOLD seconds; answered when it has left
    ID insert PORT UID [MODE]         (PC/SC) a badge put down and left there
    ID remove PORT                    (PC/SC) taken away
    quit
"""
from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Protocol


class Slot(Protocol):
    def present(self, uid_hex: str, hold_s: float, mode: str) -> None: ...

    def close(self) -> None: ...


def serve(make: Callable[[int], Slot], stdin=None, stdout=None) -> None:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    out_lock = threading.Lock()
    slots: dict[int, tuple[Slot, queue.Queue, threading.Thread]] = {}

    def say(line: str) -> None:
        with out_lock:
            stdout.write(line + "\n")
            stdout.flush()

    def work(slot: Slot, q: queue.Queue) -> None:
        while True:
            job = q.get()
            if job is None:
                return
            cid, verb, args = job
            try:
                if verb == "present":
                    slot.present(args[0], float(args[1]), args[2] if len(args) > 2 else "ok")
                elif verb == "insert":
                    slot.insert(args[0], args[1] if len(args) > 1 else "ok")  # type: ignore[attr-defined]
                elif verb == "remove":
                    slot.remove()  # type: ignore[attr-defined]
                say(f"OK {cid}")
            except (ValueError, IndexError, AttributeError, OSError) as exc:
                say(f"ERROR {cid} {exc}")

    say("READY")
    for line in stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if len(words) < 3:
            say(f"ERROR {words[0]} want: ID VERB PORT …")
            continue
        cid, verb = words[0], words[1]
        try:
            port = int(words[2])
            if verb == "add":
                if port not in slots:
                    slot = make(port)
                    q: queue.Queue = queue.Queue()
                    t = threading.Thread(target=work, args=(slot, q), daemon=True, name=f"slot-{port}")
                    t.start()
                    slots[port] = (slot, q, t)
                say(f"OK {cid}")
            elif verb in ("present", "insert", "remove"):
                if port not in slots:
                    raise ValueError(f"no slot on port {port}: add it first")
                slots[port][1].put((cid, verb, words[3:]))
            else:
                raise ValueError(f"unknown command {verb!r}")
        except (ValueError, OSError) as exc:
            say(f"ERROR {cid} {exc}")
    for _slot, q, _t in slots.values():
        q.put(None)
    for slot, _q, t in slots.values():
        t.join(10)
        slot.close()
