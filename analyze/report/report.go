// Package report writes the analysis database as one self-contained HTML
// file: charts as inline SVG, tables, budgets and sensitive-data counts.
// Nothing is fetched when it opens (no CDN, no fonts, no script needed to
// read it), so it can be mailed or archived and opened offline.
package report

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"time"

	"github.com/lessllm/lessllm/analyze"
	"github.com/lessllm/lessllm/analyze/budget"
)

//go:embed report.html.tmpl
var pageTemplate string

// Options select what the report covers.
type Options struct {
	Since, Until time.Time // zero: unbounded
	Budgets      []budget.Budget
	Now          time.Time // budgets are evaluated as of Now; zero: time.Now()
}

// Table is a titled result table.
type Table struct {
	ID, Title, Note string
	Columns         []string
	// Classes style the cells of each column (parallel to Columns; may be
	// short): "id" (monospace, one line), "num" (right-aligned, one line),
	// "nowrap", "excerpt" (wraps anywhere, within a width).
	Classes []string
	Rows    [][]string
}

// ClassOf is the class of column i's cells.
func (t Table) ClassOf(i int) string {
	if i < len(t.Classes) {
		return t.Classes[i]
	}
	return ""
}

// page is what the template renders.
type page struct {
	Generated, Range string
	Totals           []kv
	Figures          []Figure
	Tables           []Table
}

type kv struct{ K, V string }

// querier runs the report's queries over its period; a table that does
// not exist yet (a database analysed before the feature) yields no rows
// rather than an error.
type querier struct {
	ctx     context.Context
	db      *sql.DB
	where   string
	args    []any
	colours *colours
}

// Series names with a fixed colour and place in legends, in legend order.
const (
	networkSeries = "network (connection set-up and round trips)"
	computeSeries = "server compute"
)

var fixedSeries = []struct{ name, colour string }{
	{"calls", palette[0]}, {"errors", palette[3]},
	{"streamed p50", palette[0]}, {"streamed p95", palette[5]}, {"non-streamed p50", palette[3]}, {"non-streamed p95", palette[1]},
	{"prompt tokens", palette[0]}, {"completion tokens", palette[1]},
	{"predicted hit rate", palette[2]}, {"actual hit rate", palette[0]},
	{networkSeries, palette[1]}, {computeSeries, palette[0]},
	{"other", Other},
}

// colours gives every series one colour for good, so that a model or a
// kind of call looks the same in every chart and every report: the series
// above have theirs; a model has the palette colour of its rank in the
// order models first appeared in the database — all of it, whatever the
// report's period — so a model keeps its colour as the database grows
// (only calls older than all of it, analysed later, could shift the ranks).
type colours struct{ rank map[string]int }

func loadColours(ctx context.Context, db *sql.DB) (*colours, error) {
	c := &colours{rank: map[string]int{}}
	rows, err := db.QueryContext(ctx, `SELECT `+analyze.ModelName+` AS m FROM api_calls WHERE `+analyze.HasModel+` GROUP BY 1 ORDER BY min(timestamp), 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		c.rank[m] = len(c.rank)
	}
	return c, rows.Err()
}

// paint colours series and puts them in legend order: the fixed series in
// their order, then models by rank, "other" last. Two series of one chart
// never share a colour: a model whose rank colour is taken (ranks past the
// palette wrap) takes the next free one.
func (c *colours) paint(series []Series) []Series {
	place := func(name string) int {
		if name == "other" {
			return math.MaxInt
		}
		if i, fixed := fixedIndex(name); fixed {
			return i
		}
		if r, ok := c.rank[name]; ok {
			return len(fixedSeries) + r
		}
		return math.MaxInt - 1 // known to neither: after the models
	}
	sort.SliceStable(series, func(i, j int) bool { return place(series[i].Name) < place(series[j].Name) })
	used := map[string]bool{}
	for i := range series {
		var colour string
		if f, fixed := fixedIndex(series[i].Name); fixed {
			colour = fixedSeries[f].colour
		} else {
			r, ok := c.rank[series[i].Name]
			if !ok {
				r = len(c.rank) + i
			}
			colour = color(r)
			for k := 1; used[colour] && k < len(palette); k++ {
				colour = color(r + k)
			}
		}
		series[i].Color, used[colour] = colour, true
	}
	return series
}

// fixedIndex is the position of name in fixedSeries.
func fixedIndex(name string) (int, bool) {
	for i, f := range fixedSeries {
		if f.name == name {
			return i, true
		}
	}
	return 0, false
}

func (q *querier) rows(sqlText string, scan func(*sql.Rows) error) error {
	return q.rowsWith(q.args, sqlText, scan)
}

func (q *querier) rowsWith(args []any, sqlText string, scan func(*sql.Rows) error) error {
	rows, err := q.db.QueryContext(q.ctx, sqlText, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (q *querier) hasTable(name string) bool {
	var n int
	q.db.QueryRowContext(q.ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = ?`, name).Scan(&n)
	return n > 0
}

// Write renders the report of db to w.
func Write(ctx context.Context, db *sql.DB, w io.Writer, opts Options) error {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	cols, err := loadColours(ctx, db)
	if err != nil {
		return err
	}
	q := &querier{ctx: ctx, db: db, where: "TRUE", colours: cols}
	if !opts.Since.IsZero() {
		q.where += " AND timestamp >= ?"
		q.args = append(q.args, opts.Since)
	}
	if !opts.Until.IsZero() {
		q.where += " AND timestamp < ?"
		q.args = append(q.args, opts.Until)
	}
	p := &page{Generated: opts.Now.UTC().Format("2006-01-02 15:04 UTC")}
	steps := []func(*querier, *page) error{totals, costPerDay, callsPerDay, latencyBoxes, streamedVsNot, tokensPerUser, cacheRates, networkShare, cacheOpportunities, slowAndExpensive, otherEndpoints, sensitiveCounts}
	for _, step := range steps {
		if err := step(q, p); err != nil {
			return err
		}
	}
	if len(opts.Budgets) > 0 {
		st, err := analyze.CheckBudgets(ctx, db, opts.Budgets, opts.Now)
		if err != nil {
			return err
		}
		t := Table{ID: "budgets", Title: "Budgets: spend in the current period, projected to its end at the recent rate",
			Columns: []string{"budget", "period", "limit (USD)", "spent (USD)", "projected (USD)", "state"},
			Classes: []string{"", "", "num", "num", "num"}}
		for _, s := range st {
			t.Rows = append(t.Rows, []string{s.Scope, s.Period, usd(s.USD), usd(s.SpentUSD), usd(s.ProjectedUSD), s.State})
		}
		p.Tables = append([]Table{t}, p.Tables...)
	}
	tmpl, err := template.New("report").Parse(pageTemplate)
	if err != nil {
		return err
	}
	return tmpl.Execute(w, p)
}

func usd(v float64) string { return fmt.Sprintf("%.4f", v) }

func totals(q *querier, p *page) error {
	var calls, errs int64
	var cost, prompt, completion sql.NullFloat64
	var first, last sql.NullTime
	err := q.db.QueryRowContext(q.ctx, `SELECT count(*), count(*) FILTER (WHERE error_type IS NOT NULL), sum(estimated_cost_usd),
		sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)), sum(coalesce(actual_completion_tokens, estimated_completion_tokens)),
		min(timestamp), max(timestamp) FROM api_calls WHERE `+q.where, q.args...).Scan(&calls, &errs, &cost, &prompt, &completion, &first, &last)
	if err != nil {
		return err
	}
	p.Range = "no calls"
	if first.Valid {
		p.Range = first.Time.UTC().Format("2006-01-02 15:04") + " – " + last.Time.UTC().Format("2006-01-02 15:04 UTC")
	}
	p.Totals = []kv{{"calls", fmt.Sprint(calls)}, {"errors", fmt.Sprint(errs)}, {"cost (USD)", usd(cost.Float64)},
		{"prompt tokens", fmt.Sprintf("%.0f", prompt.Float64)}, {"completion tokens", fmt.Sprintf("%.0f", completion.Float64)}}
	return nil
}

// pivot collects (category, series, value) rows into Series over ordered
// categories.
type pivot struct {
	cats, names []string
	ci, ni      map[string]int
	vals        map[[2]int]float64
}

func newPivot() *pivot {
	return &pivot{ci: map[string]int{}, ni: map[string]int{}, vals: map[[2]int]float64{}}
}

func (pv *pivot) add(cat, name string, v float64) {
	c, ok := pv.ci[cat]
	if !ok {
		c = len(pv.cats)
		pv.ci[cat] = c
		pv.cats = append(pv.cats, cat)
	}
	n, ok := pv.ni[name]
	if !ok {
		n = len(pv.names)
		pv.ni[name] = n
		pv.names = append(pv.names, name)
	}
	pv.vals[[2]int{c, n}] += v
}

func (pv *pivot) series() []Series {
	out := make([]Series, len(pv.names))
	for n, name := range pv.names {
		out[n] = Series{Name: name, Values: make([]float64, len(pv.cats))}
		for c := range pv.cats {
			out[n].Values[c] = pv.vals[[2]int{c, n}]
		}
	}
	return out
}

// The charts by model name models by analyze.ModelName and leave out the
// calls that name none (listed apart: otherEndpoints).
const (
	modelName = analyze.ModelName
	hasModel  = " AND " + analyze.HasModel
)

// topModels keeps the 8 costliest models by name and folds the rest into
// "other", so a legend stays readable.
const topModels = `(SELECT ` + modelName + ` AS m FROM api_calls WHERE %s` + hasModel + ` GROUP BY 1 ORDER BY sum(estimated_cost_usd) DESC NULLS LAST, count(*) DESC LIMIT 8)`

func costPerDay(q *querier, p *page) error {
	pv := newPivot()
	twice := append(append([]any{}, q.args...), q.args...) // the filter is used twice
	err := q.rowsWith(twice, fmt.Sprintf(`WITH top AS `+topModels+`
		SELECT strftime(timezone('UTC', timestamp), '%%Y-%%m-%%d') AS day,
			CASE WHEN `+modelName+` IN (SELECT m FROM top) THEN `+modelName+` ELSE 'other' END AS m,
			coalesce(sum(estimated_cost_usd), 0)
		FROM api_calls WHERE %s`+hasModel+` GROUP BY 1, 2 ORDER BY 1, 2`, q.where, q.where), func(r *sql.Rows) error {
		var day, m string
		var v float64
		if err := r.Scan(&day, &m, &v); err != nil {
			return err
		}
		pv.add(day, m, v)
		return nil
	})
	if err != nil {
		return err
	}
	p.Figures = append(p.Figures, Bars("cost-per-day", "Cost per day, by model", "day (UTC)", "cost (USD)", "USD", pv.cats, q.colours.paint(pv.series()), true))
	return nil
}

func callsPerDay(q *querier, p *page) error {
	var days []string
	calls, errs := Series{Name: "calls"}, Series{Name: "errors"}
	err := q.rows(`SELECT strftime(timezone('UTC', timestamp), '%Y-%m-%d'), count(*), count(*) FILTER (WHERE error_type IS NOT NULL)
		FROM api_calls WHERE `+q.where+` GROUP BY 1 ORDER BY 1`, func(r *sql.Rows) error {
		var d string
		var c, e float64
		if err := r.Scan(&d, &c, &e); err != nil {
			return err
		}
		days = append(days, d)
		calls.Values, errs.Values = append(calls.Values, c), append(errs.Values, e)
		return nil
	})
	if err != nil {
		return err
	}
	p.Figures = append(p.Figures, Bars("calls-per-day", "Calls and errors per day", "day (UTC)", "calls", "calls", days, q.colours.paint([]Series{calls, errs}), false))
	return nil
}

func latencyBoxes(q *querier, p *page) error {
	for _, m := range []struct{ id, col, title, unit string }{
		{"ttft", "estimated_ttft_ms", "Time to first token (TTFT) by model", "ms"},
		{"tpot", "estimated_tpot_ms", "Time per output token (TPOT) by model", "ms"},
	} {
		var boxes []Box
		err := q.rows(fmt.Sprintf(`SELECT `+modelName+`, quantile_cont(%[1]s, 0.05), quantile_cont(%[1]s, 0.25),
			quantile_cont(%[1]s, 0.5), quantile_cont(%[1]s, 0.75), quantile_cont(%[1]s, 0.95), count(%[1]s)
			FROM api_calls WHERE %[2]s AND %[1]s IS NOT NULL`+hasModel+` GROUP BY 1 ORDER BY 1`, m.col, q.where), func(r *sql.Rows) error {
			var b Box
			if err := r.Scan(&b.Label, &b.P5, &b.P25, &b.P50, &b.P75, &b.P95, &b.N); err != nil {
				return err
			}
			boxes = append(boxes, b)
			return nil
		})
		if err != nil {
			return err
		}
		f := Boxes(m.id, m.title, "model", m.unit, m.unit, boxes)
		f.Note = "Streamed calls measured; non-streamed calls modeled from the streamed calls of the same model (README \"Metric definitions\")."
		p.Figures = append(p.Figures, f)
	}
	return nil
}

func streamedVsNot(q *querier, p *page) error {
	pv := newPivot()
	err := q.rows(`SELECT `+modelName+`, stream, quantile_cont(total_latency_ms, 0.5), quantile_cont(total_latency_ms, 0.95)
		FROM api_calls WHERE `+q.where+hasModel+` AND error_type IS NULL GROUP BY 1, 2 ORDER BY 1, 2 DESC`, func(r *sql.Rows) error {
		var m string
		var streamed bool
		var p50, p95 float64
		if err := r.Scan(&m, &streamed, &p50, &p95); err != nil {
			return err
		}
		kind := "non-streamed"
		if streamed {
			kind = "streamed"
		}
		pv.add(m, kind+" p50", p50)
		pv.add(m, kind+" p95", p95)
		return nil
	})
	if err != nil {
		return err
	}
	f := Bars("streamed-vs-not", "Total latency, streamed vs non-streamed (successful calls)", "model", "latency (ms)", "ms", pv.cats, q.colours.paint(pv.series()), false)
	p.Figures = append(p.Figures, f)
	return nil
}

func tokensPerUser(q *querier, p *page) error {
	var users []string
	prompt, completion := Series{Name: "prompt tokens"}, Series{Name: "completion tokens"}
	err := q.rows(`SELECT coalesce(user_id, '(none)'), coalesce(sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)), 0),
		coalesce(sum(coalesce(actual_completion_tokens, estimated_completion_tokens)), 0)
		FROM api_calls WHERE `+q.where+hasModel+` GROUP BY 1 ORDER BY 2 + 3 DESC, 1 LIMIT 12`, func(r *sql.Rows) error {
		var u string
		var pt, ct float64
		if err := r.Scan(&u, &pt, &ct); err != nil {
			return err
		}
		users = append(users, u)
		prompt.Values, completion.Values = append(prompt.Values, pt), append(completion.Values, ct)
		return nil
	})
	if err != nil {
		return err
	}
	f := Bars("tokens-per-user", "Tokens per user or team (top 12)", "user (OpenAI user, Anthropic metadata.user_id, x-lessllm-user, else key fingerprint)", "tokens", "tokens", users, q.colours.paint([]Series{prompt, completion}), true)
	p.Figures = append(p.Figures, f)
	return nil
}

func cacheRates(q *querier, p *page) error {
	var models []string
	pred, act := Series{Name: "predicted hit rate"}, Series{Name: "actual hit rate"}
	err := q.rows(`SELECT `+modelName+`,
		100 * sum(estimated_cached_tokens)::DOUBLE / nullif(sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)) FILTER (WHERE estimated_cached_tokens IS NOT NULL), 0),
		100 * sum(actual_cached_tokens)::DOUBLE / nullif(sum(actual_prompt_tokens) FILTER (WHERE actual_cached_tokens IS NOT NULL), 0)
		FROM api_calls WHERE `+q.where+hasModel+` AND (estimated_cached_tokens IS NOT NULL OR actual_cached_tokens IS NOT NULL) GROUP BY 1 ORDER BY 1`, func(r *sql.Rows) error {
		var m string
		var pr, ac sql.NullFloat64
		if err := r.Scan(&m, &pr, &ac); err != nil {
			return err
		}
		models = append(models, m)
		pred.Values, act.Values = append(pred.Values, nanIfNull(pr)), append(act.Values, nanIfNull(ac))
		return nil
	})
	if err != nil {
		return err
	}
	f := Bars("cache-hit-rate", "Prompt cache: predicted vs actual hit rate per model", "model", "hit rate (% of prompt tokens)", "%", models, q.colours.paint([]Series{pred, act}), false)
	f.Note = "Predicted by replaying the provider's published caching rules over the prompts (README \"Prompt cache analysis\"); actual as the API reported."
	p.Figures = append(p.Figures, f)
	return nil
}

func nanIfNull(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

func networkShare(q *querier, p *page) error {
	var rows []string
	net, comp := Series{Name: networkSeries}, Series{Name: computeSeries}
	err := q.rows(`SELECT provider || ' via ' || coalesce(proxy, 'direct'), coalesce(sum(estimated_network_ms), 0), coalesce(sum(estimated_compute_ms), 0)
		FROM api_calls WHERE `+q.where+` AND estimated_network_ms IS NOT NULL GROUP BY 1 ORDER BY 1`, func(r *sql.Rows) error {
		var k string
		var n, c float64
		if err := r.Scan(&k, &n, &c); err != nil {
			return err
		}
		rows = append(rows, k)
		net.Values, comp.Values = append(net.Values, n), append(comp.Values, c)
		return nil
	})
	if err != nil {
		return err
	}
	f := Shares("network-share", "Where the time goes: network vs compute, per provider and route", "share of total latency", rows, q.colours.paint([]Series{net, comp}))
	p.Figures = append(p.Figures, f)
	return nil
}

func cacheOpportunities(q *querier, p *page) error {
	if !q.hasTable("cache_opportunities") {
		return nil
	}
	t := Table{ID: "cache-opportunities", Title: "Prompt-cache opportunities (largest daily saving first)",
		Note:    "Families of calls whose prompts start alike, over everything analysed; excerpts mask digits and long identifiers.",
		Columns: []string{"reason", "model", "calls", "repeated prefix (tokens)", "predicted hit rate", "actual hit rate", "diverges at token", "excerpt", "saving (USD/day)", "advice"},
		Classes: []string{"", "", "num", "num", "num", "num", "num", "excerpt", "num"}}
	err := q.rowsWith(nil, `SELECT reason, model, calls, repeated_prefix_tokens, predicted_hit_rate, actual_hit_rate, divergence_token, divergence_excerpt, saving_usd_per_day, advice
		FROM cache_opportunities WHERE reason <> 'none' ORDER BY saving_usd_per_day DESC NULLS LAST, calls DESC LIMIT 10`, func(r *sql.Rows) error {
		var reason, model, advice string
		var calls, rep int64
		var pred float64
		var act, save sql.NullFloat64
		var at sql.NullInt64
		var excerpt sql.NullString
		if err := r.Scan(&reason, &model, &calls, &rep, &pred, &act, &at, &excerpt, &save, &advice); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []string{reason, model, fmt.Sprint(calls), fmt.Sprint(rep), pct(pred), pctNull(act), intNull(at), excerpt.String, floatNull(save, "%.4f"), advice})
		return nil
	})
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func pctNull(v sql.NullFloat64) string {
	if !v.Valid {
		return "–"
	}
	return pct(v.Float64)
}

func intNull(v sql.NullInt64) string {
	if !v.Valid {
		return "–"
	}
	return fmt.Sprint(v.Int64)
}

func floatNull(v sql.NullFloat64, f string) string {
	if !v.Valid {
		return "–"
	}
	return fmt.Sprintf(f, v.Float64)
}

func slowAndExpensive(q *querier, p *page) error {
	for _, t := range []struct {
		id, title, order string
	}{
		{"slowest", "Slowest calls", "total_latency_ms DESC"},
		{"most-expensive", "Most expensive calls", "estimated_cost_usd DESC NULLS LAST"},
	} {
		tab := Table{ID: t.id, Title: t.title,
			Columns: []string{"request id", "time (UTC)", "model", "user", "stream", "status", "latency (ms)", "TTFT (ms)", "tokens in / out", "cost (USD)"},
			Classes: []string{"id", "nowrap", "name", "", "", "", "num", "num", "num", "num"}}
		err := q.rows(`SELECT request_id, strftime(timezone('UTC', timestamp), '%Y-%m-%d %H:%M'), `+modelName+`, coalesce(user_id, '–'), stream,
			coalesce(CAST(status AS VARCHAR), 'no response'), total_latency_ms, estimated_ttft_ms,
			coalesce(actual_prompt_tokens, estimated_prompt_tokens), coalesce(actual_completion_tokens, estimated_completion_tokens), estimated_cost_usd
			FROM api_calls WHERE `+q.where+hasModel+` ORDER BY `+t.order+`, request_id LIMIT 10`, func(r *sql.Rows) error {
			var id, ts, model, user, status string
			var stream bool
			var lat float64
			var ttft, cost sql.NullFloat64
			var pt, ct sql.NullInt64
			if err := r.Scan(&id, &ts, &model, &user, &stream, &status, &lat, &ttft, &pt, &ct, &cost); err != nil {
				return err
			}
			tab.Rows = append(tab.Rows, []string{id, ts, model, user, fmt.Sprint(stream), status, fmt.Sprintf("%.1f", lat),
				floatNull(ttft, "%.1f"), intNull(pt) + " / " + intNull(ct), floatNull(cost, "%.6f")})
			return nil
		})
		if err != nil {
			return err
		}
		p.Tables = append(p.Tables, tab)
	}
	return nil
}

// otherEndpoints lists the calls that name no model (GET /v1/models,
// files), which the charts and tables above leave out.
func otherEndpoints(q *querier, p *page) error {
	t := Table{ID: "other-endpoints", Title: "Other endpoints: calls that name no model",
		Note:    "Not in the charts and tables above (no tokens, no cost).",
		Columns: []string{"endpoint", "provider", "calls", "errors", "latency p50 (ms)"},
		Classes: []string{"nowrap", "", "num", "num", "num"}}
	err := q.rows(`SELECT endpoint, provider, count(*), count(*) FILTER (WHERE error_type IS NOT NULL), quantile_cont(total_latency_ms, 0.5)
		FROM api_calls WHERE `+q.where+` AND NOT (`+analyze.HasModel+`) GROUP BY ALL ORDER BY 3 DESC, 1, 2`, func(r *sql.Rows) error {
		var endpoint, provider string
		var calls, errs int64
		var p50 float64
		if err := r.Scan(&endpoint, &provider, &calls, &errs, &p50); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []string{endpoint, provider, fmt.Sprint(calls), fmt.Sprint(errs), fmt.Sprintf("%.1f", p50)})
		return nil
	})
	if err != nil || len(t.Rows) == 0 {
		return err
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func sensitiveCounts(q *querier, p *page) error {
	if !q.hasTable("sensitive_findings") {
		return nil
	}
	t := Table{ID: "sensitive", Title: "Sensitive data found in prompts and responses",
		Note:    "Counts by kind, user and model; the values are not in this report (sensitive_findings keeps masked excerpts).",
		Columns: []string{"kind", "user", "model", "where", "findings", "calls"},
		Classes: []string{"", "", "", "", "num", "num"}}
	err := q.rows(`SELECT f.kind, coalesce(f.user_id, '–'), coalesce(f.model, '–'), f."where", count(*), count(DISTINCT f.request_id)
		FROM sensitive_findings f WHERE f.request_id IN (SELECT request_id FROM api_calls WHERE `+q.where+`)
		GROUP BY ALL ORDER BY 5 DESC, 1, 2, 3, 4`, func(r *sql.Rows) error {
		var kind, user, model, where string
		var n, calls int64
		if err := r.Scan(&kind, &user, &model, &where, &n, &calls); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []string{kind, user, model, where, fmt.Sprint(n), fmt.Sprint(calls)})
		return nil
	})
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, t)
	return nil
}
