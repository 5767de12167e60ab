"""Contractors (承包商管理) and the gate: firm archive and document review, workers, entry training, jobs
with their safety briefing, badge-checked entry, evaluation (`rules` pure, `service` stored, `api` HTTP)."""
