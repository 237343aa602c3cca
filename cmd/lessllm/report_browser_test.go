package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// artifactsDir is where the browser test leaves its screenshots (a CI
// artifact; README "HTML report"): $LESSLLM_ARTIFACTS, else artifacts/ at
// the repository root.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("LESSLLM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds Debian's browser; CI installs it (.ci/run).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LESSLLM_NO_BROWSER") == "1" {
		t.Skip("LESSLLM_NO_BROWSER=1: the report's browser test is skipped")
	}
	t.Fatal("no chromium on PATH: install it (apt-get install chromium; .ci/run does) or set LESSLLM_NO_BROWSER=1")
	return ""
}

// headless runs the browser on a file and returns its stdout and stderr.
func headless(t *testing.T, browser string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", browser, args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestReportInBrowser runs `make demo`'s program (capture → analyze →
// report) and opens the report it wrote in headless Chromium: no console
// message, every chart drew marks, screenshots at desktop and phone width,
// and none of the secrets the demo planted in a prompt appears in the
// report or the database.
func TestReportInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	demo := exec.Command("go", "run", "../lessllm-demo", "-lessllm", lessllmBin, "-dir", dir)
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	report := filepath.Join(dir, "report.html")
	if !strings.Contains(string(out), "The report: "+report) {
		t.Fatalf("the demo does not end by naming the report:\n%s", out)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Find(html); m != nil {
		t.Errorf("the report fetches from the network: %s", m)
	}

	// The period flags: the demo's day, and a day without calls.
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, period := range [][2]string{{today, tomorrow}, {"2000-01-01", "2000-01-02"}} {
		out := filepath.Join(dir, "period.html")
		if _, stderr, code := runLessllm(t, "report", "--config", filepath.Join(dir, "lessllm.yaml"), "--out", out,
			"--since", period[0], "--until", period[1]); code != 0 {
			t.Fatalf("report --since %s --until %s: exit %d: %s", period[0], period[1], code, stderr)
		}
		b, _ := os.ReadFile(out)
		if empty := strings.Contains(string(b), "no calls"); empty != (period[0] == "2000-01-01") {
			t.Errorf("report of %v: says no calls = %v", period, empty)
		}
	}

	url := "file://" + report
	dom, stderr := headless(t, browser, "--dump-dom", url)
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", line)
		}
	}
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the page's self-check did not run (no %s in the DOM)", name)
		}
		return m[1]
	}
	charts, _ := strconv.Atoi(attr("data-charts"))
	drawn, _ := strconv.Atoi(attr("data-charts-drawn"))
	t.Logf("charts: %d, with marks: %d", charts, drawn)
	if charts < 8 || drawn != charts { // cost, calls, TTFT, TPOT, streamed vs not, tokens per user, cache, network share
		t.Errorf("%d of %d charts drew data; empty: %q", drawn, charts, attr("data-charts-empty"))
	}
	for _, section := range []string{`id="budgets"`, `id="cache-opportunities"`, `id="slowest"`, `id="most-expensive"`, `id="sensitive"`, "dynamic_prefix", "aws_access_key", "credit_card", "exceeded"} {
		if !strings.Contains(dom, section) {
			t.Errorf("the report lacks %s", section)
		}
	}

	art := artifactsDir(t)
	for _, shot := range []struct{ name, size string }{{"report-1280.png", "1280,3600"}, {"report-phone.png", "390,6000"}} {
		path, _ := filepath.Abs(filepath.Join(art, shot.name))
		headless(t, browser, "--screenshot="+path, "--window-size="+shot.size, "--hide-scrollbars", url)
		if st, err := os.Stat(path); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", path, err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The planted values, in full, are nowhere in the outputs: not in the
	// report, not in the database file or any of its tables (request_json
	// carries masked excerpts in their place), not in the Parquet files.
	dbPath := filepath.Join(dir, "lessllm.duckdb")
	findings := queryOK(t, dbPath, "csv", `SELECT kind, excerpt FROM sensitive_findings ORDER BY kind`)
	outputs := map[string][]byte{"report": html, "dom": []byte(dom), "demo output and logs": out}
	for _, table := range []string{"api_calls", "sensitive_findings", "cache_opportunities"} {
		outputs["table "+table] = []byte(queryOK(t, dbPath, "csv", "SELECT * FROM "+table))
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(path, ".duckdb") || strings.HasSuffix(path, ".parquet")) {
			b, _ := os.ReadFile(path)
			outputs[path] = b
		}
		return nil
	})
	// The demo's API keys (clients' and upstream's) must not be there either.
	for _, secret := range []string{"4111 1111 1111 1111", "jane.doe@example.com", "AKIAIOSFODNN7EXAMPLE",
		"sk-demo-client", "sk-demo-openai", "sk-ant-demo"} { // sk-ant-demo also covers sk-ant-demo-client
		for name, content := range outputs {
			if bytes.Contains(content, []byte(secret)) {
				t.Errorf("%s contains the planted %q", name, secret)
			}
		}
	}
	if !strings.Contains(string(outputs["table api_calls"]), "[aws_access_key AKIA…MPLE]") {
		t.Error("request_json does not carry the masked excerpt where the key was")
	}
	t.Logf("sensitive_findings:\n%s", findings)
}

// layoutScript runs in the report and writes what the layout test checks
// into data-layout on <html>: text boxes that overlap or leave their chart,
// repeated tick labels, tables wider than their box, request ids wrapped,
// and every legend's names and colours.
const layoutScript = `<script>
(function () {
  var out = {overlaps: [], outside: [], repeats: [], scroll: [], wrapped: [], labels: [], legends: {}};
  // A text's box is its local bounding box carried through its transform
  // (slanted labels are quadrilaterals); two overlap unless some edge's
  // normal separates them (separating axis theorem).
  function quad(t) {
    var b = t.getBBox(), m = t.getScreenCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]].map(function (p) {
      return [m.a * p[0] + m.c * p[1] + m.e, m.b * p[0] + m.d * p[1] + m.f];
    });
  }
  function separated(p, q) {
    return [p, q].some(function (poly) {
      return poly.some(function (a, i) {
        var b = poly[(i + 1) % 4], nx = b[1] - a[1], ny = a[0] - b[0];
        var pr = function (pts) { var v = pts.map(function (c) { return c[0] * nx + c[1] * ny; }); return [Math.min.apply(null, v), Math.max.apply(null, v)]; };
        var s = pr(p), r = pr(q), len = Math.hypot(nx, ny);
        return s[1] <= r[0] + 0.5 * len || r[1] <= s[0] + 0.5 * len;
      });
    });
  }
  function label(t) { var c = t.cloneNode(true); c.querySelectorAll("title").forEach(function (x) { x.remove(); }); return c.textContent; }
  document.querySelectorAll("figure.chart-figure").forEach(function (fig) {
    out.legends[fig.id] = Array.from(fig.querySelectorAll(".legend li")).map(function (li) {
      return [li.textContent, getComputedStyle(li.querySelector("i")).backgroundColor];
    });
    var svg = fig.querySelector("svg");
    if (!svg) { return; }
    var frame = svg.getBoundingClientRect();
    var texts = Array.from(svg.querySelectorAll("text"));
    var quads = texts.map(quad);
    for (var i = 0; i < texts.length; i++) {
      if (quads[i].some(function (c) { return c[0] < frame.left - 0.5 || c[0] > frame.right + 0.5 || c[1] < frame.top - 0.5 || c[1] > frame.bottom + 0.5; })) {
        out.outside.push(fig.id + ": " + label(texts[i]));
      }
      for (var j = i + 1; j < texts.length; j++) {
        if (!separated(quads[i], quads[j])) { out.overlaps.push(fig.id + ": " + label(texts[i]) + " / " + label(texts[j])); }
      }
    }
    var ticks = Array.from(svg.querySelectorAll("text.tick:not(.category)")).map(label);
    if (new Set(ticks).size !== ticks.length) { out.repeats.push(fig.id + ": " + ticks.join(", ")); }
    svg.querySelectorAll("text.category").forEach(function (t) { out.labels.push(label(t)); });
  });
  document.querySelectorAll("section .table").forEach(function (d) {
    if (d.scrollWidth > d.clientWidth + 1) {
      var widths = Array.from(d.querySelectorAll("th")).map(function (th) { return th.textContent + " " + Math.round(th.getBoundingClientRect().width); });
      out.scroll.push(d.parentNode.id + ": " + d.scrollWidth + " > " + d.clientWidth + " (" + widths.join(", ") + ")");
    }
  });
  document.querySelectorAll("td.id").forEach(function (td) {
    var r = document.createRange(); r.selectNodeContents(td);
    if (r.getClientRects().length > 1) { out.wrapped.push(td.textContent); }
  });
  document.documentElement.setAttribute("data-layout", JSON.stringify(out));
})();
</script>`

// reportLayout is what layoutScript found in a report at a window width.
type reportLayout struct {
	Overlaps, Outside, Repeats, Scroll, Wrapped, Labels []string
	Legends                                             map[string][][2]string
}

func measureReport(t *testing.T, browser, report string, width int) reportLayout {
	t.Helper()
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "measured.html")
	os.WriteFile(page, bytes.Replace(b, []byte("</body>"), []byte(layoutScript+"</body>"), 1), 0o600)
	dom, _ := headless(t, browser, "--dump-dom", fmt.Sprintf("--window-size=%d,3000", width), "file://"+page)
	m := regexp.MustCompile(`data-layout="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the layout script did not run on %s", report)
	}
	var l reportLayout
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestReportLayoutInBrowser: reports of traffic made to be hard to lay out
// — twelve users named by rotated key fingerprints and long team names,
// ten models with long dated names, twenty days, fractions of a cent a
// day, GET /v1/models calls — measured in headless Chromium at 1280 px: no
// two text boxes of a chart overlap, none leaves its chart, no axis repeats
// a tick label, no table scrolls sideways, no request id wraps; no chart
// or legend names "(none)", the model-less calls are listed apart; and
// every series keeps its colour between two reports of different periods
// with different models.
func TestReportLayoutInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "layout", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	early := []string{"gpt-4o-mini", "claude-3-5-haiku-20241022", "my-org/llama-3.1-70b-instruct-turbo", "gemini-2.5-flash-preview-05-20",
		"mistral-large-2411", "qwen2.5-coder-32b-instruct", "deepseek-r1-distill-llama-70b", "o3-mini-2025-01-31",
		"gpt-4.1-nano-2025-04-14", "command-r-plus-08-2024"}
	late := []string{"qwen2.5-coder-32b-instruct", "o3-mini-2025-01-31", "llama-guard-3-8b", "gpt-4o-mini"}
	teams := []string{"platform-infrastructure-team-eu-west", "research-evaluation-harness"}
	r := rand.New(rand.NewPCG(21, 21))
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for day := range 20 {
		models := early
		if day >= 10 {
			models = late
		}
		for i := range 6 {
			ex := formattest.StreamedChat(r, start.AddDate(0, 0, day).Add(time.Duration(i)*time.Minute), 4+r.IntN(30))
			ex.Route.Model = models[(day+i)%len(models)]
			ex.Route.UpstreamModel = ex.Route.Model
			if i < len(teams) && day%3 == 0 {
				ex.Request.Headers["X-Lessllm-User"] = []string{teams[i]}
			}
			w.Append(ex) // else the user is the key's fingerprint, a new key each call
		}
		list := formattest.StreamedChat(r, start.AddDate(0, 0, day).Add(time.Hour), 1)
		list.Request.Method, list.Request.Path = "GET", "/v1/models"
		list.Request.SetBody(nil, 0)
		list.Route.Model, list.Route.UpstreamModel = "", ""
		body := `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}`
		list.Response.Headers["Content-Type"] = []string{"application/json"}
		list.Response.Chunks = []format.Chunk{format.NewChunk(80_000_000, []byte(body))}
		list.Response.Bytes = int64(len(body))
		w.Append(list)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "layout.duckdb")
	analyzeOK(t, dir, "--db", db)

	reports := map[string][2]string{"first": {"2026-11-01", "2026-11-11"}, "second": {"2026-11-11", "2026-11-21"}, "all": {"2026-11-01", "2026-11-21"}}
	colourOf := map[string]string{} // series → colour, over all reports and charts
	for name, period := range reports {
		out := filepath.Join(t.TempDir(), name+".html")
		if _, stderr, code := runLessllm(t, "report", "--db", db, "--out", out, "--since", period[0], "--until", period[1]); code != 0 {
			t.Fatalf("report %s: %s", name, stderr)
		}
		page, _ := os.ReadFile(out)
		if !strings.Contains(string(page), `id="other-endpoints"`) || !strings.Contains(string(page), "/v1/models") {
			t.Errorf("%s: the model-less calls are not listed apart", name)
		}
		if name == "all" {
			shot, _ := filepath.Abs(filepath.Join(artifactsDir(t), "report-layout-1280.png"))
			headless(t, browser, "--screenshot="+shot, "--window-size=1280,4200", "--hide-scrollbars", "file://"+out)
			t.Logf("screenshot: %s", shot)
		}
		l := measureReport(t, browser, out, 1280)
		for what, bad := range map[string][]string{"overlapping text": l.Overlaps, "text outside its chart": l.Outside,
			"repeated tick labels": l.Repeats, "tables scrolling sideways": l.Scroll, "wrapped request ids": l.Wrapped} {
			if len(bad) > 0 {
				t.Errorf("%s report at 1280 px: %s:\n  %s", name, what, strings.Join(bad, "\n  "))
			}
		}
		for _, label := range l.Labels {
			if label == "(none)" {
				t.Errorf("%s report: a chart has a (none) category", name)
			}
		}
		for fig, items := range l.Legends {
			seen := map[string]string{}
			for _, it := range items {
				series, colour := it[0], it[1]
				if series == "(none)" {
					t.Errorf("%s report, %s: a (none) series", name, fig)
				}
				if other, ok := seen[colour]; ok {
					t.Errorf("%s report, %s: %s and %s share %s", name, fig, other, series, colour)
				}
				seen[colour] = series
				if c, ok := colourOf[series]; ok && c != colour {
					t.Errorf("%s report, %s: %s is %s here, %s elsewhere", name, fig, series, colour, c)
				}
				colourOf[series] = colour
			}
		}
	}
	for _, m := range []string{"qwen2.5-coder-32b-instruct", "o3-mini-2025-01-31", "gpt-4o-mini", "llama-guard-3-8b", "streamed p50", "prompt tokens"} {
		if colourOf[m] == "" {
			t.Errorf("no legend names %s: %v", m, colourOf)
		}
	}
}
