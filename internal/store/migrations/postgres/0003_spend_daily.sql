-- Spend per UTC day, key, team, user and model, kept as spend logs are
-- written, so that reports read a few rows per day instead of every
-- request. day is 'YYYY-MM-DD'.
CREATE TABLE spend_daily (
    day                   TEXT NOT NULL,
    api_key               TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    model                 TEXT NOT NULL DEFAULT '',
    spend                 DOUBLE PRECISION NOT NULL DEFAULT 0,
    prompt_tokens         BIGINT NOT NULL DEFAULT 0,
    completion_tokens     BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    failed_requests       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, api_key, team_id, user_id, model)
);
INSERT INTO spend_daily (day, api_key, team_id, user_id, model, spend, prompt_tokens, completion_tokens, requests, failed_requests)
SELECT to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), api_key, team_id, user_id, model,
       SUM(cost), SUM(prompt_tokens), SUM(completion_tokens), COUNT(*), SUM(CASE WHEN status = 'failure' THEN 1 ELSE 0 END)
FROM spend_logs
GROUP BY 1, 2, 3, 4, 5;
