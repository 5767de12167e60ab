"""The satellite reader station: a small board at a far checkpoint that reads badges with the appliance's
own reader drivers, stores each tap durably before acknowledging it, and posts the taps signed to the
appliance (`station.py`, run by `safety-appliance reader`). `protocol.py` is the signed-post protocol both
sides share. It loads only the drivers and a few core basics, never the appliance itself.
"""
