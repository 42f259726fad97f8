-- pgbench custom script: the facts eligibility reads, fetched by code as one SQL statement
-- (the subject, its credit_state and its current rating), for a random code of bench_codes.
\set n random(1, :codes)
SELECT s.id, s.lookup_key, s.kind, cs.facts, r.grade, r.grade_class, r.score, r.valid_until
FROM subject s LEFT JOIN credit_state cs ON cs.subject_id = s.id
LEFT JOIN rating r ON r.subject_id = s.id AND r.model_code = 'PUBLIC_COMPREHENSIVE'
WHERE s.lookup_key = (SELECT code FROM bench_codes WHERE i = :n);
