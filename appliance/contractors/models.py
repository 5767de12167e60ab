"""The contractor tables (migration contractors): firms, documents, workers (keyed by the core's person
id: the core's `people.kind = "contractor"` and `company` stay as they are; the firm link, the ID number
and the entry training live here), jobs and their workers, briefings and who confirmed them, evaluations,
and every gate decision."""
from __future__ import annotations

import peewee

from appliance.core.db import BaseModel as Model


class Firm(Model):
    name = peewee.TextField(unique=True)
    credit_code = peewee.TextField()
    contact = peewee.TextField()
    phone = peewee.TextField()
    blacklisted = peewee.BooleanField()
    blacklist_reason = peewee.TextField(null=True)
    blacklisted_by = peewee.TextField(null=True)
    blacklisted_at = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_firms"


class Document(Model):
    firm_id = peewee.IntegerField()
    kind = peewee.TextField()
    number = peewee.TextField()
    expires_on = peewee.TextField(null=True)
    photo = peewee.TextField(null=True)
    status = peewee.TextField()
    submitted_by = peewee.TextField()
    reviewed_by = peewee.TextField(null=True)
    review_reason = peewee.TextField(null=True)
    reviewed_at = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_documents"


class Worker(Model):
    person_id = peewee.IntegerField(primary_key=True)
    firm_id = peewee.IntegerField()
    id_number = peewee.TextField()
    trained_on = peewee.TextField(null=True)
    trained_by = peewee.TextField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_workers"


class Job(Model):
    firm_id = peewee.IntegerField()
    title = peewee.TextField()
    area_id = peewee.IntegerField(null=True)
    starts_on = peewee.TextField()
    ends_on = peewee.TextField()
    required_certs = peewee.TextField()
    status = peewee.TextField()
    created_by = peewee.TextField()
    approved_by = peewee.TextField(null=True)
    started_at = peewee.IntegerField(null=True)
    finished_at = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_jobs"


class JobWorker(Model):
    job_id = peewee.IntegerField()
    person_id = peewee.IntegerField()

    class Meta:
        table_name = "contractor_job_workers"
        primary_key = peewee.CompositeKey("job_id", "person_id")


class Briefing(Model):
    job_id = peewee.IntegerField()
    content = peewee.TextField()
    given_by = peewee.TextField()
    given_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_briefings"


class Attendee(Model):
    briefing_id = peewee.IntegerField()
    person_id = peewee.IntegerField()
    confirmed_at = peewee.IntegerField()
    uid_tail = peewee.TextField()

    class Meta:
        table_name = "contractor_briefing_attendees"
        primary_key = peewee.CompositeKey("briefing_id", "person_id")


class Evaluation(Model):
    job_id = peewee.IntegerField(unique=True)
    firm_id = peewee.IntegerField()
    ppe_violations = peewee.IntegerField()
    hazards_caused = peewee.IntegerField()
    permit_breaches = peewee.IntegerField()
    rating = peewee.IntegerField()
    score = peewee.IntegerField()
    grade = peewee.TextField()
    note = peewee.TextField()
    evaluated_by = peewee.TextField()
    evaluated_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_evaluations"


class GateEntry(Model):
    tap_id = peewee.IntegerField(null=True, unique=True)
    at = peewee.IntegerField()
    reader = peewee.TextField()
    direction = peewee.TextField()
    person_id = peewee.IntegerField(null=True)
    firm_id = peewee.IntegerField(null=True)
    job_id = peewee.IntegerField(null=True)
    uid_tail = peewee.TextField()
    decision = peewee.TextField()
    reason = peewee.TextField()
    reasons = peewee.TextField()
    recorded_at = peewee.IntegerField()

    class Meta:
        table_name = "gate_entries"


class FaceTemplate(Model):
    """A consenting worker's face template for the gate's optional face check (never the photo)."""

    person_id = peewee.IntegerField(primary_key=True)
    template = peewee.BlobField()
    model = peewee.TextField()
    consent_at = peewee.IntegerField()
    consent_by = peewee.TextField()
    consent_text = peewee.TextField()
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "contractor_faces"
