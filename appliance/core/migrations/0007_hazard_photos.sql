-- 0007: photos of a hazard (as reported) and of its rectification, by SHA-256 of the stored JPEG.
ALTER TABLE hazards ADD COLUMN photo TEXT;
ALTER TABLE hazards ADD COLUMN after_photo TEXT;
