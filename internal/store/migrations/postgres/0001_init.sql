-- Keys, teams, users and spend logs. Lists and maps are JSON text.
CREATE TABLE api_keys (
    token                 TEXT PRIMARY KEY,   -- SHA-256 hex of the key
    key_name              TEXT NOT NULL,      -- "sk-...wxyz"
    key_alias             TEXT,
    team_id               TEXT,
    user_id               TEXT,
    models                TEXT NOT NULL DEFAULT '[]',
    max_budget            DOUBLE PRECISION,
    soft_budget           DOUBLE PRECISION,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    model_max_budget      TEXT NOT NULL DEFAULT '{}',
    spend                 DOUBLE PRECISION NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT '{}',
    tags                  TEXT NOT NULL DEFAULT '[]',
    blocked               BOOLEAN NOT NULL DEFAULT FALSE,
    expires               TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX api_keys_alias ON api_keys (key_alias) WHERE key_alias IS NOT NULL;
CREATE INDEX api_keys_team ON api_keys (team_id);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX api_keys_reset ON api_keys (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE teams (
    team_id               TEXT PRIMARY KEY,
    team_alias            TEXT NOT NULL DEFAULT '',
    models                TEXT NOT NULL DEFAULT '[]',
    max_budget            DOUBLE PRECISION,
    soft_budget           DOUBLE PRECISION,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    model_max_budget      TEXT NOT NULL DEFAULT '{}',
    spend                 DOUBLE PRECISION NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT '{}',
    blocked               BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX teams_reset ON teams (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE users (
    user_id               TEXT PRIMARY KEY,
    user_email            TEXT NOT NULL DEFAULT '',
    user_role             TEXT NOT NULL DEFAULT '',
    models                TEXT NOT NULL DEFAULT '[]',
    max_budget            DOUBLE PRECISION,
    soft_budget           DOUBLE PRECISION,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    model_max_budget      TEXT NOT NULL DEFAULT '{}',
    spend                 DOUBLE PRECISION NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT '{}',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_reset ON users (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE spend_logs (
    id                    TEXT PRIMARY KEY,
    request_id            TEXT NOT NULL,
    api_key               TEXT NOT NULL DEFAULT '',  -- the key's token (hash)
    key_alias             TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    end_user              TEXT NOT NULL DEFAULT '',
    model                 TEXT NOT NULL DEFAULT '',
    deployment            TEXT NOT NULL DEFAULT '',
    bedrock_model         TEXT NOT NULL DEFAULT '',
    prompt_tokens         BIGINT NOT NULL DEFAULT 0,
    completion_tokens     BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens     BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens    BIGINT NOT NULL DEFAULT 0,
    cost                  DOUBLE PRECISION NOT NULL DEFAULT 0,
    start_time            TIMESTAMPTZ NOT NULL,
    end_time              TIMESTAMPTZ NOT NULL,
    status                TEXT NOT NULL DEFAULT '',
    prompt                TEXT
);
CREATE INDEX spend_logs_request ON spend_logs (request_id);
CREATE INDEX spend_logs_start ON spend_logs (start_time);
CREATE INDEX spend_logs_key ON spend_logs (api_key, start_time);
CREATE INDEX spend_logs_team ON spend_logs (team_id, start_time);
CREATE INDEX spend_logs_user ON spend_logs (user_id, start_time);
