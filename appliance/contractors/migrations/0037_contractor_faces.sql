-- 0037: the optional face check at the gate ([contractors] face_check): one face template per contractor
-- worker who consented — 128 numbers computed from the enrolment photo (dlib's ResNet face descriptor), never
-- the photo itself, which is discarded once the template is made (个人信息保护法 Art. 28/29: biometric data is
-- sensitive, separate consent; GB/T 35273 §5.4: store the template, not the original). Withdrawing consent
-- deletes the row.
CREATE TABLE contractor_faces (
    person_id INTEGER PRIMARY KEY REFERENCES people(id),
    template BLOB NOT NULL,                        -- 128 float32, little-endian (512 bytes)
    model TEXT NOT NULL,                           -- which descriptor made it (a new model needs new templates)
    consent_at INTEGER NOT NULL,                   -- when the worker consented, as the enrolling user recorded
    consent_by TEXT NOT NULL,                      -- who recorded the consent and enrolled the face
    consent_text TEXT NOT NULL,                    -- the consent wording the worker agreed to
    created_at INTEGER NOT NULL
);
