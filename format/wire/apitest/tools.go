package apitest

// toolCall is what the simulator decides to call: when a request offers
// tools and the conversation does not end with a tool's result, it calls
// the first tool with arguments made from the tool's JSON schema (integers
// 2, numbers 1.5, booleans true, strings "x"), as a model would. After a
// tool result, it answers in text.
type toolCall struct {
	id, name string
	args     string // JSON object
}

// pieces splits the arguments into the deltas a stream sends.
func (t *toolCall) pieces() []string {
	var out []string
	for s := t.args; len(s) > 0; {
		n := min(len(s), 6)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func argsFromSchema(schema map[string]any) string {
	props, _ := schema["properties"].(map[string]any)
	args := map[string]any{}
	for name, p := range props {
		prop, _ := p.(map[string]any)
		switch prop["type"] {
		case "integer":
			args[name] = 2
		case "number":
			args[name] = 1.5
		case "boolean":
			args[name] = true
		default:
			args[name] = "x"
		}
	}
	return string(mustJSON(args))
}

// openAIToolCall decides for a Chat Completions request.
func (s *Simulator) openAIToolCall(req map[string]any) *toolCall {
	tools, _ := req["tools"].([]any)
	msgs, _ := req["messages"].([]any)
	if len(tools) == 0 || len(msgs) == 0 || req["tool_choice"] == "none" {
		return nil
	}
	if last, _ := msgs[len(msgs)-1].(map[string]any); last["role"] == "tool" {
		return nil
	}
	tool, _ := tools[0].(map[string]any)
	fn, _ := tool["function"].(map[string]any)
	params, _ := fn["parameters"].(map[string]any)
	return &toolCall{id: s.id("call_"), name: str(fn["name"]), args: argsFromSchema(params)}
}

// anthropicToolCall decides for a Messages request.
func (s *Simulator) anthropicToolCall(req map[string]any) *toolCall {
	tools, _ := req["tools"].([]any)
	msgs, _ := req["messages"].([]any)
	if len(tools) == 0 || len(msgs) == 0 {
		return nil
	}
	if tc, _ := req["tool_choice"].(map[string]any); tc["type"] == "none" {
		return nil
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	if blocks, ok := last["content"].([]any); ok {
		for _, b := range blocks {
			if blk, _ := b.(map[string]any); blk["type"] == "tool_result" {
				return nil
			}
		}
	}
	tool, _ := tools[0].(map[string]any)
	schema, _ := tool["input_schema"].(map[string]any)
	return &toolCall{id: s.id("toolu_"), name: str(tool["name"]), args: argsFromSchema(schema)}
}
