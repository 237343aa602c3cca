package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lessllm/lessllm/analyze/budget"
)

// Budget states.
const (
	BudgetOK        = "ok"
	BudgetProjected = "projected" // within the limit now, over it by the period's end at the recent rate
	BudgetExceeded  = "exceeded"
)

// BudgetStatus is a budget's spend in its current period.
type BudgetStatus struct {
	budget.Budget
	Scope                  string // "model=gpt-4o-mini", "everything"
	PeriodStart, PeriodEnd time.Time
	SpentUSD, ProjectedUSD float64
	State, Reason          string
}

// CheckBudgets computes each budget's spend so far in its current period
// (priced calls only: estimated_cost_usd) and projects it to the period's
// end at the rate of the last full period length before now — so a daily
// budget checked at 00:30 is projected from the last 24 hours, not from
// half an hour.
func CheckBudgets(ctx context.Context, db *sql.DB, budgets []budget.Budget, now time.Time) ([]BudgetStatus, error) {
	out := make([]BudgetStatus, 0, len(budgets))
	for _, b := range budgets {
		start, end, err := budget.Bounds(b.Period, now)
		if err != nil {
			return nil, fmt.Errorf("budget: %w", err)
		}
		var conds, scope []string
		var args []any
		for _, f := range []struct{ name, col, val string }{
			{"model", "coalesce(model, '') = ? OR coalesce(upstream_model, '') = ?", b.Model},
			{"provider", "provider = ?", b.Provider},
			{"user", "user_id = ?", b.User},
			{"key", "api_key_fingerprint = ?", b.Key},
		} {
			if f.val == "" {
				continue
			}
			conds = append(conds, "("+f.col+")")
			for range strings.Count(f.col, "?") {
				args = append(args, f.val)
			}
			scope = append(scope, f.name+"="+f.val)
		}
		where := "TRUE"
		if len(conds) > 0 {
			where = strings.Join(conds, " AND ")
		}
		s := BudgetStatus{Budget: b, Scope: strings.Join(scope, " "), PeriodStart: start, PeriodEnd: end}
		if s.Scope == "" {
			s.Scope = "everything"
		}
		length := end.Sub(start)
		var recent float64
		q := `SELECT coalesce(sum(estimated_cost_usd) FILTER (WHERE timestamp >= ?), 0), coalesce(sum(estimated_cost_usd), 0)
			FROM api_calls WHERE timestamp >= ? AND timestamp < ? AND ` + where
		qargs := append([]any{start, now.Add(-length), now}, args...)
		if err := db.QueryRowContext(ctx, q, qargs...).Scan(&s.SpentUSD, &recent); err != nil {
			return nil, fmt.Errorf("budget %s: %w", s.Scope, err)
		}
		s.ProjectedUSD = s.SpentUSD + recent*float64(end.Sub(now))/float64(length)
		switch {
		case s.SpentUSD > b.USD:
			s.State = BudgetExceeded
			s.Reason = fmt.Sprintf("%s %s budget %s exceeded: spent %s since %s (over by %s)",
				s.Scope, b.Period, dollars(b.USD), dollars(s.SpentUSD), start.Format(time.DateOnly), dollars(s.SpentUSD-b.USD))
		case s.ProjectedUSD > b.USD:
			s.State = BudgetProjected
			s.Reason = fmt.Sprintf("%s %s budget %s projected to be exceeded: spent %s, %s by %s at the recent rate",
				s.Scope, b.Period, dollars(b.USD), dollars(s.SpentUSD), dollars(s.ProjectedUSD), end.Format(time.DateOnly))
		default:
			s.State = BudgetOK
			s.Reason = fmt.Sprintf("%s %s budget %s: spent %s, projected %s by %s",
				s.Scope, b.Period, dollars(b.USD), dollars(s.SpentUSD), dollars(s.ProjectedUSD), end.Format(time.DateOnly))
		}
		out = append(out, s)
	}
	return out, nil
}

// BudgetTable renders statuses as a Result (for stats and the report).
func BudgetTable(st []BudgetStatus) *Result {
	r := &Result{Columns: []string{"budget", "period", "limit_usd", "spent_usd", "projected_usd", "state"}}
	for _, s := range st {
		r.Rows = append(r.Rows, []any{s.Scope, s.Period, s.USD, round2(s.SpentUSD), round2(s.ProjectedUSD), s.State})
	}
	return r
}

// dollars formats an amount with cents, or with four significant digits
// below a dollar (a $0.001 test budget must not read as $0.00).
func dollars(v float64) string {
	if math.Abs(v) >= 1 {
		return fmt.Sprintf("$%.2f", v)
	}
	return "$" + strconv.FormatFloat(v, 'g', 4, 64)
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
