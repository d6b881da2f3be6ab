-- Requests without a key, team or user have no use for the index on it:
-- leaving them out of it saves every such spend log row an index insert.
-- Queries by key, team or user repeat the index's condition to use it.
DROP INDEX spend_logs_key;
DROP INDEX spend_logs_team;
DROP INDEX spend_logs_user;
CREATE INDEX spend_logs_key ON spend_logs (api_key, start_time) WHERE api_key <> '';
CREATE INDEX spend_logs_team ON spend_logs (team_id, start_time) WHERE team_id <> '';
CREATE INDEX spend_logs_user ON spend_logs (user_id, start_time) WHERE user_id <> '';
