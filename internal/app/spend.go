package app

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/store"
)

// deploymentPrice is what a model entry's calls cost: the price table's
// price of its Bedrock model, with the entry's own LiteLLM price keys
// (model_info, then litellm_params) over it. priced is false when neither
// knows a price.
func deploymentPrice(m config.Model) (p spend.Price, priced bool, err error) {
	p, priced = spend.Lookup(m.ModelID)
	if !priced && m.ModelID != m.BaseModel {
		// A provisioned model or application profile ARN is billed as its base model.
		p, priced = spend.Lookup(m.BaseModel)
	}
	return spend.WithOverrides(p, priced, m.ModelInfo, m.Deployment.Prices)
}

// gatewayBudget is litellm_settings.max_budget and budget_duration: a
// budget every request counts against. Its periods run from the epoch, and
// a budget_duration in months is calendar months as a key's is (scopeOf).
func gatewayBudget(s config.Settings) *limits.Scope {
	if s.MaxBudget == nil {
		return nil
	}
	scope := scopeOf("global", "litellm-proxy-budget", "", store.Limits{MaxBudget: s.MaxBudget, BudgetDuration: s.BudgetDuration}, time.Time{}, true)
	return &scope
}

// warnUnpriced names, in one line at startup, the deployments whose
// requests are costed at 0 because no price is known for their model.
func warnUnpriced(log *slog.Logger, unpriced []string) {
	if len(unpriced) == 0 {
		return
	}
	log.Warn(fmt.Sprintf("no price is known for %s: their requests are costed at 0 and count nothing against budgets; "+
		"set input_cost_per_token and output_cost_per_token (or output_cost_per_image) in their litellm_params",
		strings.Join(unpriced, ", ")))
}
