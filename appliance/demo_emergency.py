"""The demo's emergency: the walk graph, the gate assembly point with its emulated badge reader (MUSTER-1),
resources, the rescue team and the plans (`appliance.emergency.seed`); and the evacuation played during
`--scenario gas-leak`: once the level-2 alarm has opened the incident and its muster, everyone still missing
taps in at the assembly point one after another — the inspector (刘洋, last seen at the tank farm) first —
so the board's count climbs to "everyone accounted for"."""
from __future__ import annotations

import logging
import threading

from appliance.demo_patrol import INSPECTOR
from appliance.emergency.seed import ASSEMBLY_READER

log = logging.getLogger(__name__)


def seed(actor: str = "system:demo") -> None:
    from appliance.emergency.seed import seed_demo

    seed_demo(actor)


def readers(sim) -> str:
    """Add the emulated assembly-point reader; the `[[readers]]` TOML of every emulated reader."""
    sim.add_nfc(ASSEMBLY_READER)
    return sim.toml()


class Evacuation:
    """On a thread: every second, if a muster is running with people missing, present their badges at the
    assembly point (the inspector first, `gap_s` apart); each muster is walked once."""

    def __init__(self, sim, gap_s: float = 4.0, start_after_s: float = 8.0):
        self.sim, self.gap_s, self.start_after_s = sim, gap_s, start_after_s
        self.stopped = threading.Event()
        self._done: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="demo-evacuation", daemon=True)

    def start(self) -> Evacuation:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self.step()
            except Exception as exc:   # an emulator that died or a busy database: try again next second
                log.warning("demo evacuation failed", extra={"error": str(exc)})

    def step(self) -> None:
        from appliance.core import events
        from appliance.core.people import Badge
        from appliance.emergency import incidents

        m = incidents.current_muster()
        if m is None or m.id in self._done:
            return
        self._done.add(m.id)
        if self.stopped.wait(self.start_after_s):   # people need a moment to walk out
            return
        missing = [x["person_id"] for x in incidents.roll(m)["missing"]]
        uids = {b.person_id: b.uid for b in Badge.select().where(Badge.person.in_(missing or [0]) & Badge.active)}
        order = sorted(uids.items(), key=lambda kv: kv[1] != INSPECTOR)
        for person_id, uid in order:
            if len(uid) == 16:   # a FeliCa card: the assembly point's reader is ISO 14443-A; the warden marks them
                incidents.mark(person_id, how="manual", point=None, at=events.now_ms(), actor="system:demo")
            else:
                self.sim.present(ASSEMBLY_READER, uid, hold_s=0.5)
            if self.stopped.wait(self.gap_s):
                return
