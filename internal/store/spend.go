package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"
)

const spendColumns = "id, request_id, api_key, key_alias, team_id, user_id, end_user, model, deployment, bedrock_model, " +
	"prompt_tokens, completion_tokens, cache_read_tokens, cache_write_tokens, cost, start_time, end_time, status, prompt"

// spendInsertSizes are the row counts of the spend log INSERTs: a batch
// goes in as statements of the largest size that fits, then smaller ones.
// On SQLite each size is prepared once and reused, so a batch parses no
// SQL (parsing thousands of placeholders per batch cost as much as the
// rows); Postgres's driver caches the few statement texts on its own.
var spendInsertSizes = [...]int{256, 64, 16, 4, 1}

// spendInsertSQL is the INSERT of n spend log rows. A row already stored (a
// batch written again after an unknown outcome) is skipped; with returning,
// the INSERT says which rows were new, so that their cost is added once.
func spendInsertSQL(n int, returning bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO spend_logs (" + spendColumns + ") VALUES ")
	row := "(" + placeholders(19) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (start_time, id) DO NOTHING")
	if returning {
		b.WriteString(" RETURNING id")
	}
	return b.String()
}

// spendInsertKey names a prepared spend log INSERT.
type spendInsertKey struct {
	rows      int
	returning bool
}

// prepareSpendInserts prepares the spend log INSERTs once (SQLite only).
func (s *sqlStore) prepareSpendInserts(ctx context.Context) error {
	s.spendInserts = make(map[spendInsertKey]*sql.Stmt, 2*len(spendInsertSizes))
	for _, n := range spendInsertSizes {
		for _, returning := range []bool{false, true} {
			st, err := s.db.PrepareContext(ctx, spendInsertSQL(n, returning))
			if err != nil {
				return fmt.Errorf("prepare the spend log insert: %w", err)
			}
			s.spendInserts[spendInsertKey{n, returning}] = st
		}
	}
	return nil
}

// execSpendInsert runs the INSERT of n rows in tx.
func (s *sqlStore) execSpendInsert(ctx context.Context, tx *sql.Tx, n int, args []any) (sql.Result, error) {
	if st := s.spendInserts[spendInsertKey{n, false}]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.q(spendInsertSQL(n, false)), args...)
}

// querySpendInsert runs the INSERT of n rows in tx, returning the ids of
// the rows that were new.
func (s *sqlStore) querySpendInsert(ctx context.Context, tx *sql.Tx, n int, args []any) (*sql.Rows, error) {
	if st := s.spendInserts[spendInsertKey{n, true}]; st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, s.q(spendInsertSQL(n, true)), args...)
}

// errSpendLogStored says a row of a batch was stored already.
var errSpendLogStored = errors.New("a spend log row is stored already")

func (s *sqlStore) InsertSpendLogs(ctx context.Context, rows []SpendLog) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	byID := make(map[string]*SpendLog, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.ID == "" {
			r.ID = rand.Text()
		}
		if _, dup := byID[r.ID]; !dup {
			byID[r.ID] = r
		}
	}
	unique := make([]*SpendLog, 0, len(byID))
	for i := range rows {
		if byID[rows[i].ID] == &rows[i] {
			unique = append(unique, &rows[i])
		}
	}
	// Nearly always every row is new, and the batch goes in whole: by
	// COPY on PostgreSQL, by prepared multi-row INSERTs on SQLite. Only
	// when a row was stored already (a batch written again) is the batch
	// written once more, row by row asking which rows are new; reading
	// them back costs a step per row.
	var err error
	if s.pool != nil {
		err = s.copySpendLogs(ctx, unique)
	} else {
		err = s.insertSpendLogs(ctx, unique)
	}
	if !errors.Is(err, errSpendLogStored) {
		if err != nil {
			return 0, err
		}
		return len(unique), nil
	}
	var inserted []*SpendLog
	args := make([]any, 0, spendInsertSizes[0]*19)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		inserted = inserted[:0]
		for chunk := range spendChunks(unique) {
			args = s.spendArgs(args, chunk)
			res, err := s.querySpendInsert(ctx, tx, len(chunk), args)
			if err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
			for res.Next() {
				var id string
				if err := res.Scan(&id); err != nil {
					res.Close()
					return fmt.Errorf("insert spend logs: %w", err)
				}
				if r := byID[id]; r != nil {
					inserted = append(inserted, r)
				}
			}
			res.Close()
			if err := res.Err(); err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
		}
		return s.addSpend(ctx, tx, inserted)
	})
	if err != nil {
		return 0, err
	}
	return len(inserted), nil
}

// insertSpendLogs writes rows that are all new in one transaction with
// multi-row INSERTs; errSpendLogStored says a row was stored already and
// nothing was written.
func (s *sqlStore) insertSpendLogs(ctx context.Context, unique []*SpendLog) error {
	args := make([]any, 0, spendInsertSizes[0]*19)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for chunk := range spendChunks(unique) {
			args = s.spendArgs(args, chunk)
			res, err := s.execSpendInsert(ctx, tx, len(chunk), args)
			if err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != int64(len(chunk)) {
				return errSpendLogStored
			}
		}
		return s.addSpend(ctx, tx, unique)
	})
}

// spendChunks cuts rows into INSERTs of the sizes prepared.
func spendChunks(rows []*SpendLog) iter.Seq[[]*SpendLog] {
	return func(yield func([]*SpendLog) bool) {
		for start := 0; start < len(rows); {
			n := spendInsertSizes[len(spendInsertSizes)-1]
			for _, size := range spendInsertSizes {
				if size <= len(rows)-start {
					n = size
					break
				}
			}
			if !yield(rows[start : start+n]) {
				return
			}
			start += n
		}
	}
}

// spendArgs appends the INSERT's arguments for rows to args[:0].
func (s *sqlStore) spendArgs(args []any, rows []*SpendLog) []any {
	args = args[:0]
	for _, r := range rows {
		var prompt any
		if r.Prompt != "" {
			prompt = r.Prompt
		}
		args = append(args, r.ID, r.RequestID, r.KeyHash, r.KeyAlias, r.TeamID, r.UserID, r.EndUser,
			r.Model, r.Deployment, r.BedrockModel, r.PromptTokens, r.CompletionTokens, r.CacheReadTokens, r.CacheWriteTokens,
			r.Cost, s.t(r.StartTime), s.t(r.EndTime), r.Status, prompt)
	}
	return args
}

// addSpend adds the cost of newly stored rows to spend_daily and to their
// key's, team's and user's spend.
func (s *sqlStore) addSpend(ctx context.Context, tx execer, rows []*SpendLog) error {
	totals := map[[2]string]float64{}
	daily := dailyTotals{}
	for _, r := range rows {
		daily.add(r)
		if r.Cost == 0 {
			continue
		}
		if r.KeyHash != "" {
			totals[[2]string{"api_keys", r.KeyHash}] += r.Cost
		}
		if r.TeamID != "" {
			totals[[2]string{"teams", r.TeamID}] += r.Cost
		}
		if r.UserID != "" {
			totals[[2]string{"users", r.UserID}] += r.Cost
		}
	}
	if err := s.addDaily(ctx, tx, daily); err != nil {
		return err
	}
	for k, amount := range totals {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE "+k[0]+" SET spend = spend + ? WHERE "+idColumn[k[0]]+" = ?"), amount, k[1]); err != nil {
			return fmt.Errorf("add spend: %w", err)
		}
	}
	return nil
}

// dailyKey is one row of spend_daily.
type dailyKey struct{ day, key, team, user, model string }

type dailySums struct {
	spend                    float64
	prompt, completion       int64
	requests, failedRequests int64
}

// dailyTotals sums a batch's new rows per spend_daily row, so that each is
// written once per batch.
type dailyTotals map[dailyKey]*dailySums

func (d dailyTotals) add(r *SpendLog) {
	k := dailyKey{r.StartTime.UTC().Format(time.DateOnly), r.KeyHash, r.TeamID, r.UserID, r.Model}
	sums := d[k]
	if sums == nil {
		sums = &dailySums{}
		d[k] = sums
	}
	sums.spend += r.Cost
	sums.prompt += r.PromptTokens
	sums.completion += r.CompletionTokens
	sums.requests++
	if r.Status == "failure" {
		sums.failedRequests++
	}
}

// dailyInsertChunk bounds the rows of one upsert into spend_daily.
const dailyInsertChunk = 500

// addDaily adds a batch's sums to spend_daily. Rows are written in key
// order, so that two instances writing the same rows on Postgres take
// their locks in the same order instead of deadlocking.
func (s *sqlStore) addDaily(ctx context.Context, tx execer, d dailyTotals) error {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b dailyKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.key, b.key), cmp.Compare(a.team, b.team),
			cmp.Compare(a.user, b.user), cmp.Compare(a.model, b.model))
	})
	for start := 0; start < len(keys); start += dailyInsertChunk {
		chunk := keys[start:min(start+dailyInsertChunk, len(keys))]
		var b strings.Builder
		b.WriteString("INSERT INTO spend_daily (day, api_key, team_id, user_id, model, spend, prompt_tokens, completion_tokens, requests, failed_requests) VALUES ")
		args := make([]any, 0, len(chunk)*10)
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + placeholders(10) + ")")
			v := d[k]
			args = append(args, k.day, k.key, k.team, k.user, k.model, v.spend, v.prompt, v.completion, v.requests, v.failedRequests)
		}
		b.WriteString(` ON CONFLICT (day, api_key, team_id, user_id, model) DO UPDATE SET
			spend = spend_daily.spend + excluded.spend,
			prompt_tokens = spend_daily.prompt_tokens + excluded.prompt_tokens,
			completion_tokens = spend_daily.completion_tokens + excluded.completion_tokens,
			requests = spend_daily.requests + excluded.requests,
			failed_requests = spend_daily.failed_requests + excluded.failed_requests`)
		if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return fmt.Errorf("add daily spend: %w", err)
		}
	}
	return nil
}

var idColumn = map[string]string{"api_keys": "token", "teams": "team_id", "users": "user_id"}

func entityTable(e Entity) (table, id string) {
	switch e {
	case EntityTeam:
		return "teams", "team_id"
	case EntityUser:
		return "users", "user_id"
	}
	return "api_keys", "token"
}

// partialIndexed are the spend_logs columns whose index leaves out rows
// where they are empty.
var partialIndexed = map[string]bool{"api_key": true, "team_id": true, "user_id": true}

func (s *sqlStore) spendWhere(f SpendFilter) (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"api_key", f.KeyHash}, {"team_id", f.TeamID}, {"user_id", f.UserID},
		{"request_id", f.RequestID}, {"model", f.Model}, {"status", f.Status}} {
		if c.v == "" {
			continue
		}
		where = append(where, c.col+" = ?")
		args = append(args, c.v)
		if partialIndexed[c.col] {
			// Always true here, and what lets the database use the
			// partial index on the column.
			where = append(where, c.col+" <> ''")
		}
	}
	if !f.Start.IsZero() {
		where = append(where, "start_time >= ?")
		args = append(args, s.t(f.Start))
	}
	if !f.End.IsZero() {
		where = append(where, "start_time < ?")
		args = append(args, s.t(f.End))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func (s *sqlStore) QuerySpendLogs(ctx context.Context, f SpendFilter) ([]SpendLog, error) {
	cond, args := s.spendWhere(f)
	order := " ORDER BY start_time, id"
	if f.NewestFirst {
		order = " ORDER BY start_time DESC, id DESC"
	}
	switch {
	case f.Limit > 0:
		order += fmt.Sprintf(" LIMIT %d", f.Limit)
	case f.Offset > 0 && s.d.name == "sqlite":
		order += " LIMIT -1" // SQLite takes OFFSET only after a LIMIT
	}
	if f.Offset > 0 {
		order += fmt.Sprintf(" OFFSET %d", f.Offset)
	}
	from := " FROM spend_logs"
	if s.d.name == "sqlite" && f.KeyHash == "" && f.TeamID == "" && f.UserID == "" && f.RequestID == "" && (f.Model != "" || f.Status != "") {
		// Without statistics SQLite would read every row and sort them
		// to find the newest of a model or status; walking the time
		// index stops after a page.
		from = " FROM spend_logs INDEXED BY spend_logs_start"
	}
	rows, err := s.db.QueryContext(ctx, s.q("SELECT "+spendColumns+from+cond+order), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SpendLog
	for rows.Next() {
		var r SpendLog
		if err := rows.Scan(&r.ID, &r.RequestID, &r.KeyHash, &r.KeyAlias, &r.TeamID, &r.UserID, &r.EndUser, &r.Model, &r.Deployment,
			&r.BedrockModel, &r.PromptTokens, &r.CompletionTokens, &r.CacheReadTokens, &r.CacheWriteTokens, &r.Cost,
			timeCol{&r.StartTime}, timeCol{&r.EndTime}, &r.Status, nullStringCol{&r.Prompt}); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) CountSpendLogs(ctx context.Context, f SpendFilter) (int, error) {
	if f.KeyHash == "" && f.TeamID == "" && f.UserID == "" {
		// By key, team or user, an index on the logs counts faster.
		if n, ok, err := s.countFromDaily(ctx, f); ok {
			return n, err
		}
	}
	cond, args := s.spendWhere(f)
	var n int
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM spend_logs"+cond), args...).Scan(&n)
	return n, err
}

// countFromDaily counts spend logs from spend_daily when the filter is
// one it can answer (whole UTC days, no request id), reading a row per
// day and group instead of every log; ok is false when it cannot.
func (s *sqlStore) countFromDaily(ctx context.Context, f SpendFilter) (n int, ok bool, err error) {
	wholeDay := func(t time.Time) bool { return t.IsZero() || t.Equal(t.UTC().Truncate(24*time.Hour)) }
	if f.RequestID != "" || !wholeDay(f.Start) || !wholeDay(f.End) {
		return 0, false, nil
	}
	var count string
	switch f.Status {
	case "":
		count = "requests"
	case "failure":
		count = "failed_requests"
	case "success":
		count = "requests - failed_requests"
	default:
		return 0, false, nil
	}
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"api_key", f.KeyHash}, {"team_id", f.TeamID}, {"user_id", f.UserID}, {"model", f.Model}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Start.IsZero() {
		where = append(where, "day >= ?")
		args = append(args, f.Start.UTC().Format(time.DateOnly))
	}
	if !f.End.IsZero() {
		where = append(where, "day < ?")
		args = append(args, f.End.UTC().Format(time.DateOnly))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total sql.NullInt64
	err = s.db.QueryRowContext(ctx, s.q("SELECT CAST(SUM("+count+") AS BIGINT) FROM spend_daily"+cond), args...).Scan(&total)
	return int(total.Int64), true, err
}

// reportGroups are the spend_daily column a report groups by, and the
// alias it is labelled with.
var reportGroups = map[string]struct{ col, label, join string }{
	"":           {"''", "''", ""},
	GroupByKey:   {"api_key", "COALESCE(k.key_alias, '')", " LEFT JOIN api_keys k ON k.token = g.grp"},
	GroupByTeam:  {"team_id", "COALESCE(t.team_alias, '')", " LEFT JOIN teams t ON t.team_id = g.grp"},
	GroupByUser:  {"user_id", "''", ""},
	GroupByModel: {"model", "''", ""},
}

func (s *sqlStore) SpendReport(ctx context.Context, f SpendReportFilter) ([]SpendDay, error) {
	g, ok := reportGroups[f.GroupBy]
	if !ok {
		return nil, fmt.Errorf("spend report: unknown grouping %q", f.GroupBy)
	}
	var where []string
	var args []any
	for _, c := range []struct{ cond, v string }{{"day >= ?", f.StartDay}, {"day <= ?", f.EndDay}, {"api_key = ?", f.KeyHash},
		{"team_id = ?", f.TeamID}, {"user_id = ?", f.UserID}, {"model = ?", f.Model}} {
		if c.v != "" {
			where = append(where, c.cond)
			args = append(args, c.v)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	// With a top, the groups that spent most are found first and every
	// other group is summed into one per day by the database, so that a
	// month of thousands of keys comes back as a few rows per day.
	with, grp, other := "", g.col, "0"
	if f.Top > 0 {
		with = "WITH top_groups AS (SELECT " + g.col + " AS grp FROM spend_daily" + cond +
			" GROUP BY " + g.col + " ORDER BY SUM(spend) DESC, " + g.col + " LIMIT ?) "
		inTop := g.col + " IN (SELECT grp FROM top_groups)"
		grp = "CASE WHEN " + inTop + " THEN " + g.col + " ELSE '' END"
		other = "CASE WHEN " + inTop + " THEN 0 ELSE 1 END"
		args = append(append(slices.Clone(args), f.Top), args...)
	}
	query := with + "SELECT g.day, g.grp, CASE WHEN g.other = 0 THEN " + g.label + " ELSE '' END, g.other, g.spend, g.prompt_tokens, " +
		"g.completion_tokens, g.requests, g.failed_requests FROM (" +
		"SELECT day, " + grp + " AS grp, " + other + " AS other, SUM(spend) AS spend, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, " +
		"CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, CAST(SUM(requests) AS BIGINT) AS requests, " +
		"CAST(SUM(failed_requests) AS BIGINT) AS failed_requests FROM spend_daily" + cond + " GROUP BY 1, 2, 3) g" +
		g.join + " ORDER BY g.day, g.other, g.grp"
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SpendDay
	for rows.Next() {
		var d SpendDay
		var other int64
		if err := rows.Scan(&d.Day, &d.Group, &d.Label, &other, &d.Spend, &d.PromptTokens, &d.CompletionTokens, &d.Requests, &d.FailedRequests); err != nil {
			return nil, err
		}
		d.Other = other != 0
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *sqlStore) TotalSpend(ctx context.Context, f SpendFilter) (float64, error) {
	cond, args := s.spendWhere(f)
	var total sql.NullFloat64
	err := s.db.QueryRowContext(ctx, s.q("SELECT SUM(cost) FROM spend_logs"+cond), args...).Scan(&total)
	return total.Float64, err
}

func (s *sqlStore) AddSpend(ctx context.Context, e Entity, id string, amount float64) error {
	table, col := entityTable(e)
	res, err := s.db.ExecContext(ctx, s.q("UPDATE "+table+" SET spend = spend + ? WHERE "+col+" = ?"), amount, id)
	return affectedOne(res, err, e.String()+" "+id)
}

func (s *sqlStore) DueBudgetResets(ctx context.Context, now time.Time) ([]BudgetRef, error) {
	var out []BudgetRef
	for _, e := range []Entity{EntityKey, EntityTeam, EntityUser} {
		table, col := entityTable(e)
		rows, err := s.db.QueryContext(ctx, s.q("SELECT "+col+", budget_duration, budget_reset_at FROM "+table+
			" WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= ?"), s.t(now))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			ref := BudgetRef{Entity: e}
			if err := rows.Scan(&ref.ID, &ref.BudgetDuration, timeCol{&ref.BudgetResetAt}); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, ref)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *sqlStore) ResetSpend(ctx context.Context, ref BudgetRef, next *time.Time) error {
	table, col := entityTable(ref.Entity)
	_, err := s.db.ExecContext(ctx, s.q("UPDATE "+table+" SET spend = 0, budget_reset_at = ? WHERE "+col+" = ? AND budget_reset_at = ?"),
		s.tp(next), ref.ID, s.t(ref.BudgetResetAt))
	return err
}
