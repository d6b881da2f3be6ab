-- Stored responses of the Responses API: the response object and its input
-- items as JSON text, visible only to the key that made them (owner is the key's
-- token; '' for the master key or a gateway without keys).
CREATE TABLE responses (
    id                    TEXT PRIMARY KEY,
    owner                 TEXT NOT NULL DEFAULT '',
    previous_response_id  TEXT NOT NULL DEFAULT '',
    response              TEXT NOT NULL,
    input                 TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX responses_owner ON responses (owner, created_at);
