// Package store keeps Strata's state: virtual keys, teams, users and spend
// logs, on the embedded SQLite (the default) or on PostgreSQL. It owns the
// schema (numbered migrations embedded per driver, applied by Open) and the
// queries; rules about keys, budgets and limits live with their callers.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when the key, team or user asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when creating something whose id (or key alias)
// is already taken.
var ErrConflict = errors.New("already exists")

// Limits are the access rules a key, a team and a user each carry. A nil
// pointer or an empty list means no limit of that kind at this level.
type Limits struct {
	Models              []string // model names allowed; empty = every model
	MaxBudget           *float64 // USD; spend at or above it refuses requests
	SoftBudget          *float64 // USD; reaching it only alerts
	BudgetDuration      string   // LiteLLM duration ("30d", "1h"); "" = never resets
	BudgetResetAt       *time.Time
	RPMLimit            *int64
	TPMLimit            *int64
	MaxParallelRequests *int64
	ModelMaxBudget      map[string]ModelBudget // per model name
}

// ModelBudget is one model's budget inside a key's model_max_budget.
type ModelBudget struct {
	BudgetLimit float64 `json:"budget_limit"`
	TimePeriod  string  `json:"time_period,omitempty"`
}

// Key is a virtual key. The plain key is never stored: Token, the SHA-256
// hex of it, is the key's id everywhere.
type Key struct {
	Token   string
	KeyName string // an abbreviation safe to show, e.g. "sk-...wxyz"
	Alias   string // key_alias; unique when set
	TeamID  string
	UserID  string
	Limits
	Spend     float64
	Metadata  map[string]any
	Tags      []string
	Blocked   bool
	Expires   *time.Time // nil = never
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Team groups keys under shared models, budget and limits.
type Team struct {
	TeamID string
	Alias  string
	Limits
	Spend     float64
	Metadata  map[string]any
	Blocked   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// User is a person or service that owns keys.
type User struct {
	UserID string
	Email  string
	Role   string
	Limits
	Spend     float64
	Metadata  map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SpendLog is one answered (or failed) request and what it cost.
type SpendLog struct {
	// ID identifies the row with StartTime; the writer sets it so that a
	// batch retried after an unknown outcome is stored (and counted) once.
	// Empty = a fresh id.
	ID               string
	RequestID        string
	KeyHash          string
	KeyAlias         string
	TeamID           string
	UserID           string
	EndUser          string // the OpenAI "user" field
	Model            string // the model name the client asked for
	Deployment       string
	BedrockModel     string
	PromptTokens     int64
	CompletionTokens int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	Cost             float64
	StartTime        time.Time
	EndTime          time.Time
	Status           string // "success" or "failure"
	Prompt           string // stored only when a setting asks for it
}

// KeyFilter selects keys for ListKeys; empty fields match everything.
// Page counts from 1; Size 0 means every match.
type KeyFilter struct {
	TeamID, UserID, Alias string
	Page, Size            int
}

// ListFilter pages through teams or users. Page counts from 1; Size 0 means all.
type ListFilter struct {
	Page, Size int
}

// SpendFilter selects spend logs; empty fields match everything. Start is
// inclusive and End exclusive, both on the request's start time. Limit 0
// means no limit; Offset skips that many rows first. Rows come oldest
// first, or newest first with NewestFirst.
type SpendFilter struct {
	KeyHash, TeamID, UserID, RequestID string
	Model, Status                      string
	Start, End                         time.Time
	Limit, Offset                      int
	NewestFirst                        bool
}

// Spend report groupings: what each day's spend is split by.
const (
	GroupByKey   = "api_key"
	GroupByTeam  = "team"
	GroupByUser  = "user"
	GroupByModel = "model"
)

// SpendReportFilter selects the days (UTC, "2026-01-31", both inclusive;
// empty: unbounded) and the spend a report sums, and how it is grouped
// (GroupBy*; "" sums each day as one group).
type SpendReportFilter struct {
	StartDay, EndDay               string
	KeyHash, TeamID, UserID, Model string
	GroupBy                        string
	// Top, when > 0, keeps the Top groups that spent most over the days
	// (ties by group) and sums the others per day into one group marked
	// Other, placed last in its day.
	Top int
}

// SpendDay is one day's spend of one group.
type SpendDay struct {
	Day              string // "2026-01-31", UTC
	Group            string // the key's token, team id, user id or model name; "" for none
	Other            bool   // the sum of the groups beyond SpendReportFilter.Top (Group and Label are "")
	Label            string // the key's or team's alias, when it has one
	Spend            float64
	PromptTokens     int64
	CompletionTokens int64
	Requests         int64
	FailedRequests   int64
}

// Keys stores virtual keys.
type Keys interface {
	CreateKey(ctx context.Context, k *Key) error // ErrConflict if the token or alias is taken
	GetKey(ctx context.Context, token string) (*Key, error)
	UpdateKey(ctx context.Context, k *Key) error // every field but Token, Spend and CreatedAt
	DeleteKey(ctx context.Context, token string) error
	ListKeys(ctx context.Context, f KeyFilter) (keys []*Key, total int, err error)
	// RegenerateKey gives the key stored under oldToken a new token (and
	// k's other fields), keeping its spend.
	RegenerateKey(ctx context.Context, oldToken string, k *Key) error
}

// Teams stores teams.
type Teams interface {
	CreateTeam(ctx context.Context, t *Team) error
	GetTeam(ctx context.Context, id string) (*Team, error)
	UpdateTeam(ctx context.Context, t *Team) error
	// DeleteTeam deletes the team and its keys, returning the keys' tokens.
	DeleteTeam(ctx context.Context, id string) (deletedKeys []string, err error)
	ListTeams(ctx context.Context, f ListFilter) (teams []*Team, total int, err error)
}

// Users stores users.
type Users interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser deletes the user and their keys, returning the keys' tokens.
	DeleteUser(ctx context.Context, id string) (deletedKeys []string, err error)
	ListUsers(ctx context.Context, f ListFilter) (users []*User, total int, err error)
}

// Entity names what a spend total belongs to.
type Entity int

const (
	EntityKey Entity = iota
	EntityTeam
	EntityUser
)

func (e Entity) String() string {
	switch e {
	case EntityKey:
		return "key"
	case EntityTeam:
		return "team"
	case EntityUser:
		return "user"
	}
	return "unknown"
}

// BudgetRef is a key, team or user whose budget period has ended.
type BudgetRef struct {
	Entity         Entity
	ID             string // token, team id or user id
	BudgetDuration string
	BudgetResetAt  time.Time
}

// SpendLogs stores spend logs and the spend totals they add up to.
type SpendLogs interface {
	// InsertSpendLogs stores rows in one transaction and adds each new row's
	// cost to its key's, team's and user's spend. Rows whose ID is already
	// stored are skipped, so a retried batch is counted once. It returns how
	// many rows were new.
	InsertSpendLogs(ctx context.Context, rows []SpendLog) (int, error)
	QuerySpendLogs(ctx context.Context, f SpendFilter) ([]SpendLog, error)
	// CountSpendLogs counts the logs f selects (Limit and Offset are ignored).
	CountSpendLogs(ctx context.Context, f SpendFilter) (int, error)
	// SpendReport sums spend per day and group, days in order, from totals
	// kept per day as logs are inserted: its cost grows with days and
	// groups, not with requests.
	SpendReport(ctx context.Context, f SpendReportFilter) ([]SpendDay, error)
	// TotalSpend sums the cost of the logs f selects (Limit is ignored).
	TotalSpend(ctx context.Context, f SpendFilter) (float64, error)
	// AddSpend adds amount to one key's, team's or user's spend total.
	AddSpend(ctx context.Context, e Entity, id string, amount float64) error
}

// Budgets resets spend totals when their budget_duration ends.
type Budgets interface {
	// DueBudgetResets lists everything whose budget_reset_at is at or before now.
	DueBudgetResets(ctx context.Context, now time.Time) ([]BudgetRef, error)
	// ResetSpend sets the spend to 0 and the next reset time, if the reset
	// time is still the one read (another instance may have reset it first).
	ResetSpend(ctx context.Context, ref BudgetRef, next *time.Time) error
}

// Response is a stored response of the Responses API. Body and Input are
// JSON: the response object and the request's input items.
type Response struct {
	ID                 string
	Owner              string // the token of the key that made it; "" for the master key
	PreviousResponseID string
	Body               []byte
	Input              []byte
	CreatedAt          time.Time
}

// Responses stores responses. Every read and delete names the owner: a
// response belongs to the key that made it, and another key's id is
// ErrNotFound, as if it did not exist.
type Responses interface {
	PutResponse(ctx context.Context, r *Response) error // ErrConflict if the id is taken
	GetResponse(ctx context.Context, owner, id string) (*Response, error)
	DeleteResponse(ctx context.Context, owner, id string) error
	// DeleteResponsesBefore deletes every response created before t,
	// whoever owns it, and says how many there were.
	DeleteResponsesBefore(ctx context.Context, t time.Time) (int64, error)
}

// Store is every aggregate on one database.
type Store interface {
	Keys
	Teams
	Users
	SpendLogs
	Budgets
	Responses
	Driver() string // "sqlite" or "postgres"
	Ping(ctx context.Context) error
	Close() error
}
