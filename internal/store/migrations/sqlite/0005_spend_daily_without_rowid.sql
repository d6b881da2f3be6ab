-- spend_daily kept in its primary key's order: a report over a month reads
-- the rows of those days one after another, grouped by day and key as
-- they come, instead of finding each row through the primary key's index
-- and then in the table. Upserts write one b-tree instead of two.
CREATE TABLE spend_daily_by_key (
    day                   TEXT NOT NULL,
    api_key               TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    model                 TEXT NOT NULL DEFAULT '',
    spend                 REAL NOT NULL DEFAULT 0,
    prompt_tokens         INTEGER NOT NULL DEFAULT 0,
    completion_tokens     INTEGER NOT NULL DEFAULT 0,
    requests              INTEGER NOT NULL DEFAULT 0,
    failed_requests       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, api_key, team_id, user_id, model)
) WITHOUT ROWID;
INSERT INTO spend_daily_by_key (day, api_key, team_id, user_id, model, spend, prompt_tokens, completion_tokens, requests, failed_requests)
SELECT day, api_key, team_id, user_id, model, spend, prompt_tokens, completion_tokens, requests, failed_requests FROM spend_daily;
DROP TABLE spend_daily;
ALTER TABLE spend_daily_by_key RENAME TO spend_daily;
