-- One index on (start_time, id) keeps ids unique and serves date ranges
-- and pages in time order, in place of the primary key on id and the index
-- on start_time: a spend log row goes into one B-tree fewer. id stays
-- unique with its start time, so a batch written twice is stored once.
-- SQLite cannot drop a primary key, so the table is rebuilt.
CREATE TABLE spend_logs_by_time (
    id                    TEXT NOT NULL,
    request_id            TEXT NOT NULL,
    api_key               TEXT NOT NULL DEFAULT '',  -- the key's token (hash)
    key_alias             TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    end_user              TEXT NOT NULL DEFAULT '',
    model                 TEXT NOT NULL DEFAULT '',
    deployment            TEXT NOT NULL DEFAULT '',
    bedrock_model         TEXT NOT NULL DEFAULT '',
    prompt_tokens         INTEGER NOT NULL DEFAULT 0,
    completion_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens    INTEGER NOT NULL DEFAULT 0,
    cost                  REAL NOT NULL DEFAULT 0,
    start_time            INTEGER NOT NULL,
    end_time              INTEGER NOT NULL,
    status                TEXT NOT NULL DEFAULT '',
    prompt                TEXT
);
INSERT INTO spend_logs_by_time (id, request_id, api_key, key_alias, team_id, user_id, end_user, model, deployment, bedrock_model,
    prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens, cost, start_time, end_time, status, prompt)
SELECT id, request_id, api_key, key_alias, team_id, user_id, end_user, model, deployment, bedrock_model,
    prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens, cost, start_time, end_time, status, prompt
FROM spend_logs;
DROP TABLE spend_logs;
ALTER TABLE spend_logs_by_time RENAME TO spend_logs;
CREATE UNIQUE INDEX spend_logs_start ON spend_logs (start_time, id);
CREATE INDEX spend_logs_request ON spend_logs (request_id);
CREATE INDEX spend_logs_key ON spend_logs (api_key, start_time) WHERE api_key <> '';
CREATE INDEX spend_logs_team ON spend_logs (team_id, start_time) WHERE team_id <> '';
CREATE INDEX spend_logs_user ON spend_logs (user_id, start_time) WHERE user_id <> '';
