-- The primary key is (start_time, id): it serves date ranges and pages in
-- time order in place of the index on start_time, so a spend log row goes
-- into one index fewer. id stays unique with its start time, so a batch
-- written twice is stored once.
ALTER TABLE spend_logs DROP CONSTRAINT spend_logs_pkey;
ALTER TABLE spend_logs ADD PRIMARY KEY (start_time, id);
DROP INDEX spend_logs_start;
