// Command lessllm-demo runs lessllm's main job end to end on one machine,
// with nothing but the lessllm binary: it starts the simulated upstream
// (`lessllm simulate`) and the capturing proxy (`lessllm capture`), sends a
// mix of streamed and non-streamed OpenAI and Anthropic calls through the
// proxy with the official Go SDKs, stops the proxy with SIGTERM (which
// seals the segments), lists what was captured, then analyses it
// (`lessllm analyze`), shows a few queries, `lessllm stats`, `lessllm
// cache` and `lessllm budget check`, and ends by writing the HTML report.
// `make demo` runs it.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	bedrocktypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

func main() {
	bin := flag.String("lessllm", "bin/lessllm", "the lessllm binary")
	dir := flag.String("dir", "demo", "working directory for the demo's config and captures")
	calls := flag.Int("calls", 24, "calls to send (a mix of APIs, streamed and not)")
	flag.Parse()
	log.SetFlags(0)

	must(os.RemoveAll(*dir))
	must(os.MkdirAll(*dir, 0o755))
	simAddr, capAddr := freeAddr(), freeAddr()
	sim := start(*bin, "simulate", "--listen", simAddr, "--ttft", "150ms", "--tpot", "20ms", "--jitter", "0.2", "--output-tokens", "20")
	defer stop(sim)
	waitListening(simAddr)

	cfg := filepath.Join(*dir, "lessllm.yaml")
	must(os.WriteFile(cfg, []byte(fmt.Sprintf(`# Written by lessllm-demo: the two providers point at the simulator.
listen: %s
capture:
  dir: %s
  node: demo
providers:
  openai:    { type: openai,    base_url: "http://%s/v1", api_key: sk-demo-openai }
  anthropic: { type: anthropic, base_url: "http://%s",    api_key: sk-ant-demo }
  azure_openai:              # an Azure OpenAI resource (simulated too)
    type: azure_openai
    base_url: "http://%s"
    api_key: azure-demo-key
    api_version: 2024-10-21
    deployments: { gpt-4o-mini: prod-mini }
  gemini: { type: gemini, base_url: "http://%s", api_key: gemini-demo-key }   # Gemini's API (simulated too)
  bedrock:                   # Amazon Bedrock Runtime (simulated too); lessllm signs with these
    type: bedrock
    region: us-east-1
    base_url: "http://%s"
    aws_access_key_id: AKIADEMOEXAMPLE
    aws_secret_access_key: demo-secret-key
models:
  mini-azure: { provider: azure_openai, model: gpt-4o-mini }   # an unchanged OpenAI SDK call to an Azure deployment
logging: { enabled: true, storage: duckdb, db_path: %s }
budgets:
  - { model: gpt-4o, period: monthly, usd: 50 }
  - { user: team-a, period: daily, usd: 0.001 }
`, capAddr, filepath.Join(*dir, "captures"), simAddr, simAddr, simAddr, simAddr, simAddr, filepath.Join(*dir, "lessllm.duckdb"))), 0o600))
	capture := start(*bin, "capture", "--config", cfg)
	waitListening(capAddr)
	proxy := "http://" + capAddr
	fmt.Printf("simulator on http://%s, lessllm capture on %s (config %s)\n\n", simAddr, proxy, cfg)

	oc := openai.NewClient(option.WithBaseURL(proxy+"/v1"), option.WithAPIKey("sk-demo-client"), option.WithMaxRetries(0))
	ac := anthropic.NewClient(aoption.WithBaseURL(proxy), aoption.WithAPIKey("sk-ant-demo-client"), aoption.WithMaxRetries(0))
	ctx := context.Background()
	prompts := []string{"Summarise the plot of Hamlet.", "Write a haiku about proxies.", "What is prompt caching?", "Explain TTFT."}
	teams := []string{"team-a", "team-b", "team-c"}
	start := time.Now()
	for i := 0; i < *calls; i++ {
		prompt := prompts[i%len(prompts)]
		// Who is calling: the x-lessllm-user header names the team.
		user := option.WithHeader("X-Lessllm-User", teams[i%len(teams)])
		auser := aoption.WithHeader("X-Lessllm-User", teams[i%len(teams)])
		var kind, text string
		var err error
		switch i % 6 {
		case 0:
			// A long system prompt that starts with the time: the cache
			// analysis reports it as a prompt family that misses the cache.
			kind = "openai chat, timestamped"
			var c *openai.ChatCompletion
			c, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{
					openai.SystemMessage("Current time: " + time.Now().UTC().Format(time.RFC3339Nano) + ". " + handbook),
					openai.UserMessage(prompt)}}, user)
			if err == nil {
				text = c.Choices[0].Message.Content
			}
		case 1:
			kind = "openai chat, streamed"
			s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(handbook), openai.UserMessage(prompt)},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}, user)
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err = s.Err(); err == nil {
				text = acc.Choices[0].Message.Content
			}
		case 2:
			kind = "openai responses"
			var r *responses.Response
			r, err = oc.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4.1",
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)}}, user)
			if err == nil {
				text = r.OutputText()
			}
		case 3:
			kind = "anthropic messages"
			var m *anthropic.Message
			m, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 200,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))}}, auser)
			if err == nil {
				text = m.Content[0].Text
			}
		default:
			kind = "anthropic messages, streamed"
			// The handbook marked with cache_control: read from the cache
			// after the first call.
			s := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 200,
				System:   []anthropic.TextBlockParam{{Text: handbook, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))}}, auser)
			var m anthropic.Message
			for s.Next() {
				m.Accumulate(s.Current())
			}
			if err = s.Err(); err == nil {
				text = m.Content[0].Text
			}
		}
		if err != nil {
			log.Fatalf("call %d (%s): %v", i+1, kind, err)
		}
		fmt.Printf("%2d. %-30s %q…\n", i+1, kind, firstWords(text, 6))
	}
	// Two calls the upstream refuses (rate limit), and one prompt with data
	// that should never be sent to an LLM: the analysis counts the errors
	// and reports the findings masked.
	for range 2 {
		_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}, user0(teams), option.WithHeader("X-Sim-Fault", "429"))
		fmt.Printf("    %-30s %v\n", "openai chat, rate-limited", errSummary(err))
	}
	_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(plantedSecrets)}}, user0(teams))
	must(err)
	fmt.Printf("    %-30s %q\n", "openai chat, leaking data", "(card, e-mail, AWS key in the prompt)")
	// Azure OpenAI both ways: the OpenAI SDK unchanged, to an alias on a
	// deployment (streamed), and a client built for Azure (its own key).
	s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "mini-azure",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompts[0])},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}, user0(teams))
	for s.Next() {
	}
	must(s.Err())
	fmt.Printf("    %-30s %s\n", "openai sdk → azure deployment", "streamed")
	az := openai.NewClient(azure.WithEndpoint(proxy, "2024-10-21"), azure.WithAPIKey("azure-demo-client-key"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	_, err = az.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "prod-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompts[1])}}, user0(teams))
	must(err)
	fmt.Printf("    %-30s %s\n", "azure client (openai-go)", "non-streamed")
	// Gemini through Google's own SDK, streamed (server-sent events).
	gc, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "gemini-demo-client-key", Backend: genai.BackendGeminiAPI, HTTPOptions: genai.HTTPOptions{BaseURL: proxy + "/"}})
	must(err)
	for _, err := range gc.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text(prompts[2]), nil) {
		must(err)
	}
	fmt.Printf("    %-30s %s\n", "gemini (google genai sdk)", "streamed")
	// Claude on Bedrock through AWS's SDK, streamed (a binary event stream).
	// (apitest.BufferingClient keeps the SDK's request bodies out of a race of
	// its own with net/http: see its doc.)
	bc := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(proxy), HTTPClient: apitest.BufferingClient{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIADEMOCLIENT", "demo-client-secret", "")})
	cs, err := bc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
		Messages: []bedrocktypes.Message{{Role: bedrocktypes.ConversationRoleUser, Content: []bedrocktypes.ContentBlock{&bedrocktypes.ContentBlockMemberText{Value: prompts[3]}}}}})
	must(err)
	for range cs.GetStream().Events() {
	}
	must(cs.GetStream().Err())
	fmt.Printf("    %-30s %s\n", "bedrock (aws sdk, converse)", "streamed")
	fmt.Printf("\n%d calls through lessllm in %.1f s. Stopping capture (SIGTERM seals the segments)…\n\n", *calls+7, time.Since(start).Seconds())
	must(capture.Process.Signal(syscall.SIGTERM))
	if err := capture.Wait(); err != nil {
		log.Fatalf("capture exited with %v", err)
	}
	ls := exec.Command(*bin, "segments", "ls", filepath.Join(*dir, "captures"))
	ls.Stdout, ls.Stderr = os.Stdout, os.Stderr
	must(ls.Run())
	fmt.Printf("\nRead them: %s segments cat %s | jq -c '{id, path: .request.path, status: .response.status, chunks: (.response.chunks|length)}'\n",
		*bin, filepath.Join(*dir, "captures"))

	// The nightly job: analyse, then ask questions.
	run(*bin, "analyze", filepath.Join(*dir, "captures"), "--config", cfg)
	run(*bin, "query", "--config", cfg, `SELECT model, COUNT(*) AS calls, SUM(estimated_cost_usd) AS total_cost FROM api_calls GROUP BY model ORDER BY calls DESC`)
	run(*bin, "query", "--config", cfg, `SELECT endpoint, stream, ttft_source, round(avg(estimated_ttft_ms), 1) AS ttft_ms, round(avg(estimated_tpot_ms), 2) AS tpot_ms, round(avg(itl_p99_ms), 2) AS itl_p99_ms FROM api_calls GROUP BY ALL ORDER BY ALL`)
	run(*bin, "stats", "--config", cfg, "--days", "1")
	run(*bin, "cache", "--config", cfg)
	runMayFail(*bin, "budget", "check", "--config", cfg)
	report := filepath.Join(*dir, "report.html")
	run(*bin, "report", "--config", cfg, "--out", report)
	abs, _ := filepath.Abs(report)
	fmt.Printf("\nMore: %s query --config %s \"SELECT * FROM api_calls LIMIT 5\" --format json; the Parquet dataset is under %s\n",
		*bin, cfg, filepath.Join(*dir, "parquet"))
	fmt.Printf("\nThe report: %s (open it in a browser: file://%s)\n", report, abs)
}

// handbook is a long, stable system prompt (about 1,900 tokens): long
// enough for the providers' prompt caches.
var handbook = strings.Repeat("Follow the support handbook: answer precisely, cite the policy section, never invent facts, escalate refunds over limits to a human. ", 70)

// plantedSecrets are made-up values of the kinds the sensitive-data scan
// finds (the AWS key is AWS's documented example).
const plantedSecrets = "Please update my account: card 4111 1111 1111 1111, e-mail jane.doe@example.com, and use AKIAIOSFODNN7EXAMPLE for the S3 export."

func user0(teams []string) option.RequestOption { return option.WithHeader("X-Lessllm-User", teams[0]) }

func errSummary(err error) string {
	if err == nil {
		return "ok"
	}
	s := err.Error()
	if i := strings.Index(s, "429"); i >= 0 {
		return "429 Too Many Requests (as injected)"
	}
	return firstWords(s, 8)
}

// runMayFail is run for commands whose non-zero exit is an answer
// (budget check exits 1 when a budget is over).
func runMayFail(bin string, args ...string) {
	fmt.Printf("\n$ lessllm %s\n", strings.Join(quoteArgs(args), " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		fmt.Printf("(exit status: %v)\n", err)
	}
}

// run runs a lessllm command in the foreground, showing it first.
func run(bin string, args ...string) {
	fmt.Printf("\n$ lessllm %s\n", strings.Join(quoteArgs(args), " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	must(cmd.Run())
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " *(") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a lessllm command in the background, its log lines prefixed.
func start(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	must(err)
	must(cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), "msg=exchange") { // one line per call: too chatty for a demo
				fmt.Fprintf(os.Stderr, "  [%s] %s\n", args[0], sc.Text())
			}
		}
	}()
	return cmd
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

func waitListening(addr string) {
	for i := 0; i < 250; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Fatalf("nothing listens on %s", addr)
}
