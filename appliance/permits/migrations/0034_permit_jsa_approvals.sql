-- 0034: the JSA (作业危害分析) as structured rows, and approval by several levels (逐级审批), GB 30871-2022
-- §4 and 附录 A (appliance/permits/chain.py). The free-text `jsa` stays for permits applied before.
ALTER TABLE permits ADD COLUMN jsa_rows TEXT NOT NULL DEFAULT '[]';  -- JSON [{step, hazards, measures, responsible}]
ALTER TABLE permits ADD COLUMN approval_chain TEXT;                  -- JSON list of levels, in order (NULL: the
                                                                     -- one level `approval_level`, as before)
ALTER TABLE permits ADD COLUMN rejected_reason TEXT;

CREATE TABLE permit_approvals (
    id INTEGER PRIMARY KEY,
    permit_id INTEGER NOT NULL REFERENCES permits(id),
    step INTEGER NOT NULL,                -- 1, 2, 3 … the position in the chain
    level TEXT NOT NULL,                  -- rules.APPROVER_ROLES key
    decision TEXT NOT NULL,               -- approved | rejected
    actor TEXT NOT NULL,                  -- user:<login>
    person_id INTEGER,                    -- their person record, where the login has one
    note TEXT NOT NULL DEFAULT '',        -- the reason of a rejection
    at INTEGER NOT NULL,
    UNIQUE (permit_id, step)
);
-- a permit approved before this migration: its one approval becomes the chain's one step
INSERT INTO permit_approvals (permit_id, step, level, decision, actor, person_id, note, at)
    SELECT id, 1, approval_level, 'approved', approved_by, NULL, '', approved_at FROM permits
    WHERE approved_by IS NOT NULL AND approved_at IS NOT NULL;
