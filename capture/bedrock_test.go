package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/openai/openai-go/v3"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// AWS credentials used by the tests; the secret scans grep for the secrets
// and the session token.
const (
	configAWSKeyID   = "AKIACONFIGURED7EXAMPLE"
	configAWSSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYconfigured01"
	configAWSSession = "IQoJb3JpZ2luX2VjEconfiguredSessionToken9f3a"
	clientAWSKeyID   = "AKIACLIENT00EXAMPLE"
	clientAWSSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYclient00002"
	bedrockModel     = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
)

// bedrockClient is AWS's official Go SDK pointed at capture, signing with
// its own credentials (which lessllm replaces).
func bedrockClient(h *harness) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.inst.URL), HTTPClient: apitest.BufferingClient{},
		Credentials: credentials.NewStaticCredentialsProvider(clientAWSKeyID, clientAWSSecret, "")})
}

// bedrockHarness: capture in front of a simulator that checks every SigV4
// signature exactly against the configured secret.
func bedrockHarness(t *testing.T, mutate func(*config.File)) *harness {
	return newHarness(t, apitest.Options{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 8,
		AWSCredentials: map[string]string{configAWSKeyID: configAWSSecret}}, func(c *config.File) {
		c.Providers[config.Bedrock] = &config.Provider{Type: config.Bedrock, BaseURL: h0URL(c), Region: "us-east-1",
			AWSAccessKeyID: configAWSKeyID, AWSSecretAccessKey: configAWSSecret, AWSSessionToken: configAWSSession}
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestBedrock: every way to Bedrock through capture — AWS's SDK
// (InvokeModel, InvokeModelWithResponseStream, Converse, ConverseStream),
// directly and through a model alias, and unchanged OpenAI and Anthropic
// SDK calls to an alias on a Bedrock Claude model — gets the simulator's
// answer intact, streamed and not. Each request reaches the upstream signed
// by lessllm with the configured credentials (the simulator recomputes the
// signature), a wrong secret is refused, and no secret reaches a record or
// a log.
func TestBedrock(t *testing.T) {
	h := bedrockHarness(t, func(c *config.File) {
		c.Providers["bedrock-bad"] = &config.Provider{Type: config.Bedrock, BaseURL: h0URL(c), Region: "us-east-1",
			AWSAccessKeyID: configAWSKeyID, AWSSecretAccessKey: "not-the-secret"}
		c.Models["claude-fast"] = config.ModelAlias{Provider: config.Bedrock, Model: bedrockModel}
		c.Models["claude-bad"] = config.ModelAlias{Provider: "bedrock-bad", Model: bedrockModel}
	})
	ctx := context.Background()
	want := apitest.Text(8)
	bc := bedrockClient(h)
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}`)
	signedByLessllm := func(t *testing.T, n int, path string) {
		t.Helper()
		r := h.sim.Received()
		for _, got := range r[len(r)-n:] {
			if !strings.HasPrefix(got.Path, path) || !strings.Contains(got.Header.Get("Authorization"), "Credential="+configAWSKeyID+"/") ||
				got.Header.Get("X-Amz-Security-Token") != configAWSSession {
				t.Errorf("upstream got %s, authorization %q", got.Path, got.Header.Get("Authorization"))
			}
		}
	}
	for _, model := range []string{bedrockModel, "claude-fast"} {
		t.Run("aws_sdk_"+model, func(t *testing.T) {
			out, err := bc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatal(err)
			}
			var msg struct {
				Content []struct{ Text string } `json:"content"`
			}
			if json.Unmarshal(out.Body, &msg) != nil || len(msg.Content) == 0 || msg.Content[0].Text != want {
				t.Fatalf("invoke: %s", out.Body)
			}
			st, err := bc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for ev := range st.GetStream().Events() {
				if c, ok := ev.(*types.ResponseStreamMemberChunk); ok {
					var e struct {
						Delta struct{ Text string } `json:"delta"`
					}
					json.Unmarshal(c.Value.Bytes, &e)
					text.WriteString(e.Delta.Text)
				}
			}
			st.GetStream().Close() // as AWS's examples do: the SDK's reader is done with the connection
			if err := st.GetStream().Err(); err != nil || text.String() != want {
				t.Fatalf("invoke stream: %v %q", err, text.String())
			}
			conv := &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{{Role: types.ConversationRoleUser,
				Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}}}
			co, err := bc.Converse(ctx, conv)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := co.Output.(*types.ConverseOutputMemberMessage); !ok || m.Value.Content[0].(*types.ContentBlockMemberText).Value != want || *co.Usage.OutputTokens != 8 {
				t.Fatalf("converse: %+v", co.Output)
			}
			cs, err := bc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: conv.ModelId, Messages: conv.Messages})
			if err != nil {
				t.Fatal(err)
			}
			text.Reset()
			var usage *types.TokenUsage
			for ev := range cs.GetStream().Events() {
				switch e := ev.(type) {
				case *types.ConverseStreamOutputMemberContentBlockDelta:
					text.WriteString(e.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
				case *types.ConverseStreamOutputMemberMetadata:
					usage = e.Value.Usage
				}
			}
			cs.GetStream().Close()
			if err := cs.GetStream().Err(); err != nil || text.String() != want || usage == nil || *usage.OutputTokens != 8 {
				t.Fatalf("converse stream: %v %q %+v", err, text.String(), usage)
			}
			signedByLessllm(t, 4, "/model/"+bedrockModel+"/")
		})
	}
	t.Run("openai_sdk_alias", func(t *testing.T) {
		c := openAIClient(h)
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}
		got, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "claude-fast", Messages: msgs})
		if err != nil || got.Choices[0].Message.Content != want || got.Usage.CompletionTokens != 8 {
			t.Fatalf("%v %+v", err, got)
		}
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "claude-fast", Messages: msgs,
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if s.Err() != nil || acc.Choices[0].Message.Content != want || acc.Usage.CompletionTokens != 8 {
			t.Fatalf("streamed %v %q %+v", s.Err(), acc.Choices[0].Message.Content, acc.Usage)
		}
		signedByLessllm(t, 2, "/model/"+bedrockModel+"/invoke")
	})
	t.Run("anthropic_sdk_alias", func(t *testing.T) {
		messagesBothWays(t, h, "claude-fast", want)
		signedByLessllm(t, 2, "/model/"+bedrockModel+"/invoke")
	})
	t.Run("inference_profile_arn", func(t *testing.T) {
		// An application inference profile's ARN as the model id: its slash
		// travels escaped (%2F) and must stay one path segment.
		const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
		out, err := bc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(arn), Body: body, ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out.Body), want) {
			t.Fatalf("invoke: %s", out.Body)
		}
		if r := h.sim.Received(); r[len(r)-1].Path != "/model/"+arn+"/invoke" {
			t.Errorf("upstream got %s", r[len(r)-1].Path)
		}
	})
	t.Run("wrong_secret_refused", func(t *testing.T) {
		_, err := bc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("claude-bad"), Body: body, ContentType: aws.String("application/json")})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" || !strings.Contains(apiErr.ErrorMessage(), "signature") {
			t.Fatalf("%T %v", err, err)
		}
	})

	metrics := h.metrics(t)
	h.records(t)
	h.scanForSecrets(t, metrics, append(testKeys, configAWSSecret, configAWSSession, clientAWSSecret, "not-the-secret")...)
}

// TestBedrockStreamIsNotBuffered: the lock-step proof of
// TestStreamingIsNotBuffered for Bedrock's binary event streams — relayed
// as they are to an AWS SDK client, and turned into the Messages API's
// events for an Anthropic client of an alias: every message reaches the
// client before the upstream sends the next.
func TestBedrockStreamIsNotBuffered(t *testing.T) {
	for _, door := range []struct{ name, path, body string }{
		{"aws_sdk", "/model/" + bedrockModel + "/invoke-with-response-stream", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}`},
		{"anthropic_alias", "/v1/messages", `{"model":"claude-fast","max_tokens":10,"stream":true,"messages":[]}`},
	} {
		t.Run(door.name, func(t *testing.T) {
			const events = 12
			acks := make(chan int)
			lockstep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", wire.EventStreamType)
				for i := range events {
					ev := fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"%d%s"}}`, i, strings.Repeat("x", i*37))
					msg, _ := wire.BedrockChunk([]byte(ev))
					w.Write(msg)
					w.(http.Flusher).Flush()
					if !awaitAck(t, acks, i) {
						return
					}
				}
			}))
			defer lockstep.Close()
			h := newHarness(t, apitest.Options{}, func(c *config.File) {
				c.Providers[config.Bedrock] = &config.Provider{Type: config.Bedrock, BaseURL: lockstep.URL, Region: "us-east-1",
					AWSAccessKeyID: configAWSKeyID, AWSSecretAccessKey: configAWSSecret}
				c.Models["claude-fast"] = config.ModelAlias{Provider: config.Bedrock, Model: bedrockModel}
			})
			resp, err := http.Post(h.inst.URL+door.path, "application/json", strings.NewReader(door.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := make(chan string, events)
			var es wire.EventStreamParser
			var sse wire.SSEParser
			buf := make([]byte, 4096)
			for i := 0; i < events; {
				n, err := resp.Body.Read(buf)
				emit := func(ev wire.Event) { got <- string(ev.Data) }
				if door.name == "aws_sdk" {
					es.Feed(0, buf[:n], func(ev wire.Event) { emit(wire.Event{Data: wire.BedrockChunkEvent(ev)}) })
				} else {
					sse.Feed(0, buf[:n], emit)
				}
				for len(got) > 0 {
					if ev := <-got; !strings.Contains(ev, fmt.Sprintf(`"text":"%d`, i)) {
						t.Fatalf("event %d: %s", i, ev)
					}
					acks <- i
					i++
				}
				if err != nil {
					t.Fatalf("after %d events: %v", i, err)
				}
			}
		})
	}
}
