-- Without them, PostgreSQL takes a month of (day, key) groups for a tenth
-- of what they are, hashes them past work_mem onto disk and sorts the
-- result again; knowing how many there are, it reads the primary key in
-- order and groups as the rows come. Statistics cost writes nothing.
CREATE STATISTICS spend_daily_groups (ndistinct) ON day, api_key, team_id, user_id, model FROM spend_daily;
ANALYZE spend_daily;
