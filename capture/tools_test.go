package capture

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

var multiplySchema = map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "integer"}, "b": map[string]any{"type": "integer"}}, "required": []string{"a", "b"}}

// TestToolRoundTripThroughAliases: each official SDK asks a model of the
// other provider to call a tool, streamed and not, gets the call in its own
// format, sends the result back, and the other provider receives the call
// and the result in its own format.
func TestToolRoundTripThroughAliases(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 2 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 8}, func(c *config.File) {
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-3-opus-20240229"}
		c.Models["gpt"] = config.ModelAlias{Provider: config.OpenAI, Model: "gpt-4o"}
	})
	ctx := context.Background()

	t.Run("openai_sdk_to_anthropic", func(t *testing.T) {
		oc := openAIClient(h)
		params := openai.ChatCompletionNewParams{Model: "claude",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is 2 * 2?")},
			Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: "multiply", Description: openai.String("Multiply two numbers."), Parameters: multiplySchema})}}
		for _, stream := range []bool{false, true} {
			var msg openai.ChatCompletionMessage
			var finish string
			if stream {
				s := oc.Chat.Completions.NewStreaming(ctx, params)
				var acc openai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
			} else {
				c, err := oc.Chat.Completions.New(ctx, params)
				if err != nil {
					t.Fatal(err)
				}
				msg, finish = c.Choices[0].Message, c.Choices[0].FinishReason
			}
			if finish != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "multiply" || msg.ToolCalls[0].Function.Arguments != `{"a":2,"b":2}` {
				t.Fatalf("stream %v: finish %q, tool calls %+v", stream, finish, msg.ToolCalls)
			}
			next := params
			next.Messages = append(append([]openai.ChatCompletionMessageParamUnion{}, params.Messages...), msg.ToParam(),
				openai.ToolMessage("4", msg.ToolCalls[0].ID))
			c, err := oc.Chat.Completions.New(ctx, next)
			if err != nil {
				t.Fatal(err)
			}
			if c.Choices[0].FinishReason != "stop" || c.Choices[0].Message.Content == "" {
				t.Fatalf("after the tool result: %+v", c.Choices[0])
			}
			// Anthropic received the call as tool_use and the result as tool_result.
			got := h.sim.Received()
			last := string(got[len(got)-1].Body)
			if !strings.Contains(last, `"type":"tool_use"`) || !strings.Contains(last, `"type":"tool_result"`) || !strings.Contains(last, `"tool_use_id":"`+msg.ToolCalls[0].ID+`"`) {
				t.Fatalf("Anthropic received %s", last)
			}
		}
	})

	t.Run("anthropic_sdk_to_openai", func(t *testing.T) {
		ac := anthropicClient(h)
		params := anthropic.MessageNewParams{Model: "gpt", MaxTokens: 100,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is 2 * 2?"))},
			Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "multiply", Description: anthropic.String("Multiply two numbers."),
				InputSchema: anthropic.ToolInputSchemaParam{Properties: multiplySchema["properties"], Required: []string{"a", "b"}}}}}}
		for _, stream := range []bool{false, true} {
			var m anthropic.Message
			if stream {
				s := ac.Messages.NewStreaming(ctx, params)
				for s.Next() {
					if err := m.Accumulate(s.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				r, err := ac.Messages.New(ctx, params)
				if err != nil {
					t.Fatal(err)
				}
				m = *r
			}
			var args map[string]int
			if m.StopReason != "tool_use" || len(m.Content) != 1 || m.Content[0].Name != "multiply" ||
				json.Unmarshal(m.Content[0].Input, &args) != nil || args["a"] != 2 || args["b"] != 2 {
				t.Fatalf("stream %v: %+v", stream, m)
			}
			next := params
			next.Messages = append(append([]anthropic.MessageParam{}, params.Messages...), m.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(m.Content[0].ID, "4", false)))
			r, err := ac.Messages.New(ctx, next)
			if err != nil {
				t.Fatal(err)
			}
			if r.StopReason != "end_turn" || r.Content[0].Text == "" {
				t.Fatalf("after the tool result: %+v", r)
			}
			got := h.sim.Received()
			last := string(got[len(got)-1].Body)
			if !strings.Contains(last, `"tool_calls":[`) || !strings.Contains(last, `"role":"tool"`) || !strings.Contains(last, `"tool_call_id":"`+m.Content[0].ID+`"`) {
				t.Fatalf("OpenAI received %s", last)
			}
		}
	})
}
