-- 0017: 重大事故隐患 per SAWS order 16 and the 121号 checklist.
-- proposed_grade: the reporter's grade (a proposal; `grade` is the safety office's, or forced by the checklist)
ALTER TABLE hazards ADD COLUMN proposed_grade TEXT;
-- JSON list of ticked 121号 item codes ("121-01" … "121-20"); any one forces the major grade
ALTER TABLE hazards ADD COLUMN checklist TEXT;
-- Art. 14 (一) 隐患的现状及其产生原因, (二) 隐患的危害程度和整改难易程度分析 ((三) is `plan`)
ALTER TABLE hazards ADD COLUMN status_cause TEXT;
ALTER TABLE hazards ADD COLUMN harm_analysis TEXT;
-- the last re-grade by the safety office (every one is also a hazard.regraded event)
ALTER TABLE hazards ADD COLUMN graded_by TEXT;
ALTER TABLE hazards ADD COLUMN grade_reason TEXT;
-- Art. 18 evaluation (评估): JSON {assessor_kind, assessor, result, document, photo, note}, who recorded it, when
ALTER TABLE hazards ADD COLUMN evaluation TEXT;
ALTER TABLE hazards ADD COLUMN evaluated_by TEXT;
ALTER TABLE hazards ADD COLUMN evaluated_at INTEGER;
-- what the rectification cost (元), for the quarterly and annual statistics
ALTER TABLE hazards ADD COLUMN cost REAL CHECK (cost IS NULL OR cost >= 0);
