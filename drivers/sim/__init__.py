"""Simulated plant peers (Modbus servers, serial gas detectors, virtual cards) for the demo and tests."""
