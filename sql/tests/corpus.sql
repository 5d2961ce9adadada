-- The differential corpus of the SQL rules (tests/integration/test_sql_pg.c):
-- each entry, separated by a line "-- @@", is run by a real PostgreSQL as an
-- unprivileged role inside BEGIN ... ROLLBACK; the command tag it reports
-- must agree with the first keyword dbev_sql_inspect finds, the number of
-- parameters PostgreSQL infers with the highest $n, and "cannot insert
-- multiple commands" with a statement count above one. Parameters are given
-- as the text '1', so every $n is cast to int or text. Entries PostgreSQL
-- refuses are fine: they are only held to the multiple-statement rule.
-- @@
SELECT 1
-- @@
select/**/1
-- @@
/* /* */ SELECT 1 */ LISTEN corpus_a
-- @@
/* a /* b /* c */ d */ e */ NOTIFY corpus_b
-- @@
; LISTEN corpus_c
-- @@
;; ; SELECT 2
-- @@
((SELECT 1))
-- @@
( /* c */ (VALUES (1), (2)))
-- @@
TABLE corpus_t
-- @@
WITH w AS (SELECT 1 AS x) SELECT * FROM w
-- @@
WITH w AS (INSERT INTO corpus_t VALUES (1) RETURNING a) SELECT * FROM w
-- @@
WITH w AS (SELECT 1) INSERT INTO corpus_t SELECT 2
-- @@
SELECT $1::int
-- @@
SELECT $1::int + $2::int AS "$4", '$3'
-- @@
SELECT $$ $5 $$, $t$ $6 $$ $t$, $1::text
-- @@
SELECT $a$ $b$ $9 $b$ $a$, $2::int, $1::int
-- @@
SELECT E'\'$7', $1::int
-- @@
SELECT e'\\', $1::int
-- @@
SELECT E'it''s $4', $1::int
-- @@
SELECT 'it''s $4', '\', $1::int
-- @@
SELECT U&'\0041$8', $1::int
-- @@
SELECT U&"a$b" FROM (SELECT 1 AS "a$b") s WHERE $1::int = 1
-- @@
SELECT 'a' /* $9 */, $1::int -- $10
-- @@
SELECT a$1 FROM (SELECT 1 AS a$1) s
-- @@
SELECT B'101', X'1F', N'n$2', $1::int
-- @@
SELECT 1; SELECT 2
-- @@
SELECT ';'; SELECT 2
-- @@
SELECT ';', $$;$$, ";" FROM (SELECT 1 AS ";") s;
-- @@
SELECT 1; -- trailing comment
;
-- @@
CREATE FUNCTION pg_temp.corpus_f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END
-- @@
CREATE TEMP TABLE corpus_tmp (a int)
-- @@
INSERT INTO corpus_t VALUES ($1::int)
-- @@
UPDATE corpus_t SET a = $1::int WHERE a = $2::int
-- @@
DELETE FROM corpus_t WHERE a > $1::int
-- @@
MERGE INTO corpus_t t USING (SELECT 1 AS a) s ON t.a = s.a WHEN MATCHED THEN DELETE
-- @@
SET LOCAL work_mem = '1MB'
-- @@
set local statement_timeout = 1000
-- @@
SET work_mem = '1MB'
-- @@
SET TRANSACTION READ ONLY
-- @@
RESET work_mem
-- @@
SHOW work_mem
-- @@
EXPLAIN SELECT 1
-- @@
DO $$ BEGIN PERFORM 1; END $$
-- @@
DO $body$ BEGIN PERFORM '$1'; END $body$
-- @@
BEGIN
-- @@
START TRANSACTION
-- @@
SAVEPOINT corpus_s
-- @@
ROLLBACK
-- @@
ABORT
-- @@
COMMIT
-- @@
END
-- @@
PREPARE corpus_p AS SELECT 1
-- @@
DEALLOCATE ALL
-- @@
UNLISTEN *
-- @@
DECLARE corpus_c CURSOR WITH HOLD FOR SELECT 1
-- @@
DECLARE corpus_d CURSOR FOR SELECT 1
-- @@
NOTIFY corpus_e, 'x'
-- @@
LOCK TABLE corpus_t IN SHARE MODE
-- @@
VALUES ($1::int, $2::text)
-- @@
SeLeCt 3
